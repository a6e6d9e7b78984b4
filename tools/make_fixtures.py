#!/usr/bin/python3
"""Writes tests/fixtures/core.txt: PyTorch's results for elman's core numerics.

tests/test_torch.c compares elman with these numbers, so CI needs no PyTorch.
Run it from anywhere with a Python that has torch (Debian's does):

    /usr/bin/python3 tools/make_fixtures.py

The output is reproducible: every section seeds torch itself, everything is
float32 on the CPU, and inputs are generated here and stored, so the C side
reads exactly the inputs that produced the references.

File format (one tensor per block, read by tests/fixture.c):

    # a comment (only at the start of a line)
    name ndim d0 d1 ...
    v v v ...

The header gives a name (no spaces) and the shape; ndim 0 is a scalar with
one value.  The values follow on the next lines, whitespace-separated, in
row-major order (one line per row of the last dimension), printed as %.9g so
that each float32 reads back exactly.  Class indices and other integers are
stored as floats.
"""

import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                   "core.txt")


class Writer:
    def __init__(self):
        self.lines = [
            "# elman test fixtures: PyTorch %s reference results, float32 on the CPU." %
            torch.__version__,
            "# Made by: /usr/bin/python3 tools/make_fixtures.py (do not edit by hand).",
            "# Block format: 'name ndim d0 d1 ...', then the values (%.9g, row-major).",
        ]
        self.names = set()

    def section(self, title):
        self.lines.append("")
        self.lines.append("# " + title)

    def put(self, name, value):
        assert name not in self.names and " " not in name, name
        self.names.add(name)
        t = torch.as_tensor(value).detach()
        if t.is_floating_point():
            t = t.to(torch.float32)
        values = [format(float(v), ".9g") for v in t.double().flatten().tolist()]
        shape = list(t.shape)
        self.lines.append(" ".join([name, str(len(shape))] + [str(d) for d in shape]))
        row = shape[-1] if shape and shape[-1] > 0 else 1
        for i in range(0, len(values), row):
            self.lines.append(" ".join(values[i:i + row]))

    def save(self, path):
        with open(path, "w") as f:
            f.write("\n".join(self.lines) + "\n")


def with_extremes(x, big):
    """Puts +big, -big and an exact 0 into the first rows of x, to exercise the
    overflow-safe paths and the kinks (relu at 0)."""
    x = x.clone()
    x[0, 0] = big
    x[0, 1] = -big
    x[1, 2] = 0.0
    x[2, 3] = big
    x[2, 4] = big - 0.5
    return x


def dense(w):
    w.section("dense: nn.Linear(7, 4) on a 5x7 input; backward of sum(y * dy)")
    torch.manual_seed(1)
    layer = torch.nn.Linear(7, 4)
    x = torch.randn(5, 7, requires_grad=True)
    y = layer(x)
    dy = torch.randn(5, 4)
    y.backward(dy)
    w.put("dense.x", x)
    w.put("dense.weight", layer.weight)
    w.put("dense.bias", layer.bias)
    w.put("dense.y", y)
    w.put("dense.dy", dy)
    w.put("dense.dx", x.grad)
    w.put("dense.dweight", layer.weight.grad)
    w.put("dense.dbias", layer.bias.grad)


def embedding(w):
    w.section("embedding: nn.Embedding(6, 3, padding_idx=2) on ids with repeats and"
              " the padding id; backward of sum(y * dy)")
    torch.manual_seed(11)
    layer = torch.nn.Embedding(6, 3, padding_idx=2)
    ids = torch.tensor([[1, 4, 2], [4, 0, 5]])
    y = layer(ids)
    dy = torch.randn(2, 3, 3)
    y.backward(dy)
    w.put("embedding.ids", ids)
    w.put("embedding.weight", layer.weight)
    w.put("embedding.y", y)
    w.put("embedding.dy", dy)
    w.put("embedding.dweight", layer.weight.grad)


def activations(w):
    w.section("activations on 5x7 inputs with +-30 and 0; backward of sum(y * dy)")
    funcs = [
        ("relu", torch.relu),
        ("sigmoid", torch.sigmoid),
        ("tanh", torch.tanh),
        ("softmax", lambda x: torch.softmax(x, dim=-1)),
        ("log_softmax", lambda x: torch.log_softmax(x, dim=-1)),
    ]
    for seed, (name, fn) in enumerate(funcs, start=10):
        torch.manual_seed(seed)
        x = with_extremes(torch.randn(5, 7) * 3, 30.0).requires_grad_()
        y = fn(x)
        dy = torch.randn(5, 7)
        y.backward(dy)
        w.put(name + ".x", x)
        w.put(name + ".y", y)
        w.put(name + ".dy", dy)
        w.put(name + ".dx", x.grad)


def mse(w):
    w.section("MSELoss (mean) on 5x7")
    torch.manual_seed(20)
    pred = torch.randn(5, 7, requires_grad=True)
    target = torch.randn(5, 7)
    loss = F.mse_loss(pred, target)
    loss.backward()
    w.put("mse.pred", pred)
    w.put("mse.target", target)
    w.put("mse.loss", loss)
    w.put("mse.dpred", pred.grad)


def cross_entropy(w):
    w.section("CrossEntropyLoss over class indices: 6 rows of 5 classes")
    torch.manual_seed(21)
    base = torch.randn(6, 5) * 2
    base[1, 3] = 30.0
    base[4, 0] = -30.0
    targets = torch.tensor([3, 0, 4, 1, 0, 2])
    row_weights = torch.tensor([0.5, 2.0, 1.0, 0.25, 3.0, 1.5])
    ignore = 0  # a real class used as padding, so ignoring it must be explicit
    w.put("ce.logits", base)
    w.put("ce.targets", targets)
    w.put("ce.ignore_index", ignore)
    w.put("ce.weights", row_weights)

    x = base.clone().requires_grad_()
    loss = F.cross_entropy(x, targets)
    loss.backward()
    w.put("ce.plain.loss", loss)
    w.put("ce.plain.dlogits", x.grad)

    x = base.clone().requires_grad_()
    loss = F.cross_entropy(x, targets, ignore_index=ignore)
    loss.backward()
    w.put("ce.ignore.loss", loss)
    w.put("ce.ignore.dlogits", x.grad)

    # elman's weighted mean: sum(w_i l_i) / sum(w_i) over the rows not ignored.
    x = base.clone().requires_grad_()
    per_row = F.cross_entropy(x, targets, ignore_index=ignore, reduction="none")
    kept = (targets != ignore).to(torch.float32)
    loss = (row_weights * kept * per_row).sum() / (row_weights * kept).sum()
    loss.backward()
    w.put("ce.weighted.loss", loss)
    w.put("ce.weighted.dlogits", x.grad)


def bce(w):
    w.section("BCEWithLogitsLoss(weight=w), mean of w * l, on 5x7 logits with +-40")
    torch.manual_seed(22)
    x = with_extremes(torch.randn(5, 7) * 4, 40.0).requires_grad_()
    target = torch.rand(5, 7)
    target[0:2] = (target[0:2] > 0.5).to(torch.float32)  # hard labels, incl. at +-40
    target[0, 0] = 0.0  # a confident wrong answer at +40
    weight = torch.rand(5, 7) * 2
    loss = F.binary_cross_entropy_with_logits(x, target, weight=weight)
    loss.backward()
    w.put("bce.logits", x)
    w.put("bce.targets", target)
    w.put("bce.weights", weight)
    w.put("bce.loss", loss)
    w.put("bce.dlogits", x.grad)


OPTIMIZERS = [
    ("sgd", lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd_momentum", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1,
                                               weight_decay=0.01)),
    ("sgd_nesterov", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True,
                                               weight_decay=0.01)),
    ("adam", lambda p: torch.optim.Adam(p, lr=0.01)),
    ("adam_wd", lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1)),
    ("adamw", lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
]
PARAMS = ["fc.weight", "fc.bias"]
STEPS = 3


def optimizers(w):
    w.section("optimizers: fc.weight (3x4) and fc.bias (4), 3 steps with stored gradients")
    torch.manual_seed(23)
    init = {"fc.weight": torch.randn(3, 4), "fc.bias": torch.randn(4)}
    grads = []
    for step in range(1, STEPS + 1):
        g = {"fc.weight": torch.randn(3, 4), "fc.bias": torch.randn(4) * 0.1}
        g["fc.weight"][0, 0] = 0.0  # a zero gradient: Adam's denominator is then eps
        grads.append(g)
    for name in PARAMS:
        w.put("optim.init.%s" % name, init[name])
    for step, g in enumerate(grads, start=1):
        for name in PARAMS:
            w.put("optim.grad%d.%s" % (step, name), g[name])

    for config, make in OPTIMIZERS:
        params = {name: init[name].clone().requires_grad_() for name in PARAMS}
        opt = make([params[name] for name in PARAMS])
        for step, g in enumerate(grads, start=1):
            for name in PARAMS:
                params[name].grad = g[name].clone()
            opt.step()
            for name in PARAMS:
                w.put("optim.%s.step%d.%s" % (config, step, name), params[name])
        for name in PARAMS:
            state = opt.state[params[name]]
            for slot in ("momentum_buffer", "exp_avg", "exp_avg_sq"):
                if state.get(slot) is not None:
                    w.put("optim.%s.state.%s.%s" % (config, name, slot), state[slot])


def clip(w):
    w.section("clip_grad_norm_(max_norm=1.0) over two gradients; clip.small is not clipped")
    torch.manual_seed(24)
    for case, scale in (("clip.big", 1.0), ("clip.small", 0.05)):
        grads = [torch.randn(3, 4) * scale, torch.randn(4) * scale]
        params = [torch.zeros_like(g, requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        total = torch.nn.utils.clip_grad_norm_(params, max_norm=1.0)
        w.put("%s.grad.weight" % case, grads[0])
        w.put("%s.grad.bias" % case, grads[1])
        w.put("%s.total_norm" % case, total)
        w.put("%s.clipped.weight" % case, params[0].grad)
        w.put("%s.clipped.bias" % case, params[1].grad)


def schedule_lrs(make, steps):
    """The learning rate in force at each of steps 0 .. steps-1, from base 0.1."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = make(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return torch.tensor(lrs, dtype=torch.float64)


def schedules(w):
    w.section("learning-rate schedules from base lr 0.1: the rate at steps 0, 1, ...")
    w.put("lr.step", schedule_lrs(
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 10))
    w.put("lr.cosine", schedule_lrs(
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001), 11))


def main():
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    w = Writer()
    for make in (dense, embedding, activations, mse, cross_entropy, bce, optimizers, clip, schedules):
        make(w)
    w.save(os.path.normpath(OUT))


if __name__ == "__main__":
    main()
