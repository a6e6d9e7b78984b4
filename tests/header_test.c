/* Compiled once for each public header (see meson.build), with nothing
 * else included first, so that a header relying on another being included
 * before it fails the build.  Including it twice also catches a missing
 * guard in a header that defines a type. */
#include ELMAN_TEST_HEADER
#include ELMAN_TEST_HEADER

int main(void) { return 0; }
