/* Gated activation backward (src/train/activation.c) for relu2 and silu against central finite differences of
 * a double reference of bn_gated_act_f32's forward; accumulation; errors. */
#include "grad_check.h"

enum { NN = 40 };

typedef struct act_ref {
    bn_activation act;
    double *gate, *up;
    const float* dout;
} act_ref;

static double act_loss(void* p) {
    const act_ref* r = p;
    double l = 0.0;
    for (int i = 0; i < NN; i++) {
        const double g = r->gate[i];
        const double a = r->act == BN_ACT_RELU2 ? (g > 0 ? g * g : 0.0) : g / (1.0 + exp(-g));
        l += r->dout[i] * a * r->up[i];
    }
    return l;
}

static void check_act(bn_activation act, uint64_t seed) {
    uint64_t rng = seed;
    float gate[NN], up[NN], dout[NN], dgate[NN] = {0}, dup[NN] = {0}, out[NN];
    double gd[NN], ud[NN], fdg[NN], fdu[NN];
    gc_fill(gate, NN, &rng, -3, 3);
    gc_fill(up, NN, &rng, -2, 2);
    gc_fill(dout, NN, &rng, -1, 1);
    for (int i = 0; i < NN; i++)
        if (fabsf(gate[i]) < 0.05f) gate[i] = 0.5f; /* keep finite differences off relu's kink */
    gc_to_double(gate, NN, gd);
    gc_to_double(up, NN, ud);
    act_ref r = {act, gd, ud, dout};
    gc_fd(act_loss, &r, gd, NN, fdg);
    gc_fd(act_loss, &r, ud, NN, fdu);
    BN_CHECK_OK(bn_train_gated_act_backward(act, dout, gate, up, NN, dgate, dup));
    GC_CHECK_GRAD(dgate, fdg, NN, act == BN_ACT_RELU2 ? "relu2 dgate" : "silu dgate");
    GC_CHECK_GRAD(dup, fdu, NN, act == BN_ACT_RELU2 ? "relu2 dup" : "silu dup");
    /* the reference forward is the library's */
    BN_CHECK_OK(bn_gated_act_f32(act, gate, up, NN, out));
    for (int i = 0; i < NN; i++) {
        const double g = gate[i], a = act == BN_ACT_RELU2 ? (g > 0 ? g * g : 0.0) : g / (1.0 + exp(-g));
        BN_CHECK(fabs(out[i] - a * up[i]) <= 1e-5 * fmax(1.0, fabs(a * up[i])));
    }
    /* accumulate: a second call doubles */
    float dg2[NN] = {0}, du2[NN] = {0};
    BN_CHECK_OK(bn_train_gated_act_backward(act, dout, gate, up, NN, dg2, du2));
    BN_CHECK_OK(bn_train_gated_act_backward(act, dout, gate, up, NN, dg2, du2));
    BN_CHECK(gc_doubled(dgate, dg2, NN, 0));
    BN_CHECK(gc_doubled(dup, du2, NN, 0));
}

BN_TEST(relu2_matches_finite_differences) { check_act(BN_ACT_RELU2, 7); }
BN_TEST(silu_matches_finite_differences) { check_act(BN_ACT_SILU, 8); }

BN_TEST(errors) {
    float a[4] = {0}, b[4] = {0};
    BN_CHECK_STATUS(bn_train_gated_act_backward((bn_activation)7, a, a, a, 4, a, b), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_gated_act_backward(BN_ACT_RELU2, a, a, a, -1, a, b), BN_ERR_INVALID_ARGUMENT);
    BN_CHECK_STATUS(bn_train_gated_act_backward(BN_ACT_SILU, NULL, a, a, 4, a, b), BN_ERR_INVALID_ARGUMENT);
}
