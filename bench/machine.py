"""The line a benchmark prints first, naming the machine it ran on.

The same code measures very differently from one machine to the next: on a
2-core Sapphire Rapids machine PyTorch's one-thread LSTM layer took 28-41 ms
where a 2-core Zen 4 machine took 23 ms, which moved elman's ratio from
2.3x to 1.7x.  So every output says which CPU (and which of OpenBLAS's
kernels) made it.  Each part falls back to "unknown" rather than stopping
the benchmark.
"""
import ctypes
import glob
import os


def cpu_model():
    """The first CPU's model name, with vendor, family and model numbers
    (a virtual machine's name may say no more than "AMD EPYC")."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        return "unknown CPU"
    name = fields.get("model name", "unknown CPU")
    flags = fields.get("flags", "").split()
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return (f"{name} ({fields.get('vendor_id', '?')} family {fields.get('cpu family', '?')} "
            f"model {fields.get('model', '?')}, {vector})")


def memory_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown memory"


def openblas():
    """OpenBLAS's version and the kernels it picked for this CPU, as the
    library the programs load reports them."""
    # elman re-chooses OpenBLAS's kernels when it loads, where OpenBLAS fell
    # back to its generic ones (src/core/runtime.c): load it first, as the
    # benchmarks' programs do, so that the kernels named are the ones used.
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in sorted(glob.glob(os.path.join(here, "..", "build*", "src", "libelman.so"))):
        try:
            ctypes.CDLL(candidate)
            break
        except OSError:
            continue
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_config.restype = ctypes.c_char_p
        lib.openblas_get_corename.restype = ctypes.c_char_p
        version = lib.openblas_get_config().decode().split()[1]
        return f"OpenBLAS {version} ({lib.openblas_get_corename().decode()} kernels)"
    except (OSError, AttributeError, IndexError, UnicodeDecodeError):
        return "OpenBLAS unknown"


def describe():
    return f"machine: {cpu_model()}, {os.cpu_count()} CPUs, {memory_gib()}; {openblas()}"


if __name__ == "__main__":
    print(describe())
