/* Gradient checking for the training-op tests (test_train_*.c): central finite differences on a double-precision
 * reference forward written in each test, and the relative error the tests bound (1e-3, as the training issue
 * asks). The scalar loss of a forward f is L = sum(dout ⊙ f(...)) for a random dout, so dL/dparam is exactly what
 * a backward given dout computes. */
#ifndef BN_TESTS_GRAD_CHECK_H
#define BN_TESTS_GRAD_CHECK_H

#include <math.h>
#include <stdlib.h>

#include "bn_test.h"

#define GC_TOL 1e-3

/* loss(ctx): the reference forward's scalar loss, reading the parameters the caller perturbs */
typedef double (*gc_loss_fn)(void* ctx);

/* grad[i] = (L(p + h e_i) - L(p - h e_i)) / 2h for each of the n doubles of p, restored afterwards */
static inline void gc_fd(gc_loss_fn loss, void* ctx, double* p, int64_t n, double* grad) {
    for (int64_t i = 0; i < n; i++) {
        const double keep = p[i], h = 1e-6 * fmax(1.0, fabs(keep));
        p[i] = keep + h;
        const double up = loss(ctx);
        p[i] = keep - h;
        const double down = loss(ctx);
        p[i] = keep;
        grad[i] = (up - down) / (2.0 * h);
    }
}

/* max_i |got_i - want_i| / max_i |want_i|: the error relative to the gradient's scale, so entries near 0 do
 * not divide by ~0 */
static inline double gc_rel_err(const float* got, const double* want, int64_t n) {
    double err = 0.0, scale = 1e-30;
    for (int64_t i = 0; i < n; i++) {
        err = fmax(err, fabs((double)got[i] - want[i]));
        scale = fmax(scale, fabs(want[i]));
    }
    return err / scale;
}

static inline void gc_fill(float* x, int64_t n, uint64_t* rng, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) x[i] = bn_test_rand_float(rng, lo, hi);
}

static inline void gc_to_double(const float* x, int64_t n, double* out) {
    for (int64_t i = 0; i < n; i++) out[i] = x[i];
}

static inline float* gc_floats(int64_t n) { return (float*)calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }
static inline double* gc_doubles(int64_t n) { return (double*)calloc((size_t)(n > 0 ? n : 1), sizeof(double)); }

/* every b[i] == 2 a[i] to within rel times the largest |2 a| (0: bit for bit): a backward called twice from zero
 * accumulates */
static inline int gc_doubled(const float* a, const float* b, int64_t n, double rel) {
    double scale = 1e-30;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(2.0 * (double)a[i]));
    for (int64_t i = 0; i < n; i++) {
        const double want = 2.0 * (double)a[i];
        if (rel == 0.0 ? b[i] != 2.0f * a[i] : fabs(b[i] - want) > rel * scale) return 0;
    }
    return 1;
}

#define GC_CHECK_GRAD(got, want, n, what)                                                        \
    do {                                                                                         \
        double gc_e_ = gc_rel_err((got), (want), (n));                                           \
        BN_CHECK_MSG(gc_e_ <= GC_TOL, "%s: relative error %.3g", (what), gc_e_); \
    } while (0)

#endif
