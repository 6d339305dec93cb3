/* The marks of bitnet-icount (icount.c): how a program run under the tracer tells it where a measured region starts
 * and ends. Linux only (the tracer is ptrace-based); on other systems bn_icount_active() is 0 and the marks do nothing.
 *
 * Protocol (version 1):
 *   - bitnet-icount sets BITNET_ICOUNT=1 in the traced program's environment.
 *   - begin: the thread sends itself SIGUSR1 with rt_tgsigqueueinfo, si_value.sival_ptr = the region's label (a
 *     NUL-terminated string, at most 127 bytes are read). The tracer suppresses the signal and from then on
 *     single-steps the thread, one PTRACE_SINGLESTEP per user-mode instruction.
 *   - end: the thread sends itself SIGUSR2, si_value.sival_ptr = a uint64_t (8-byte aligned) or NULL. The tracer
 *     suppresses the signal, writes the number of steps into that uint64_t and goes back to PTRACE_CONT.
 * The signals are thread-directed (tgsigqueueinfo, not kill), so they reach the one traced thread even when the
 * program has other threads; those are not traced and their instructions are not counted.
 *
 * A region's raw count includes the marks' own instructions after the begin signal and before the end signal (the
 * returns out of bn_icount_begin, the call into bn_icount_end up to its syscall). That overhead is the same for
 * every region because both marks are out-of-line functions: measure it once with an empty region
 * (bn_icount_begin(); bn_icount_end()) and subtract it. What remains is the code between the two calls, including
 * the instructions that load a measured call's arguments. */
#ifndef BN_ICOUNT_H
#define BN_ICOUNT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#  include <signal.h>
#  include <sys/syscall.h>
#  include <unistd.h>
#  define BN_ICOUNT_SUPPORTED 1
#else
#  define BN_ICOUNT_SUPPORTED 0
#endif

/* The environment variable the tracer sets, and its value for this protocol. */
#define BN_ICOUNT_ENV "BITNET_ICOUNT"
#define BN_ICOUNT_PROTOCOL "1"
#define BN_ICOUNT_LABEL_MAX 128

/* 1 when this process runs under bitnet-icount (protocol 1). */
static inline int bn_icount_active(void) {
    const char* v = getenv(BN_ICOUNT_ENV);
    return BN_ICOUNT_SUPPORTED && v != NULL && strcmp(v, BN_ICOUNT_PROTOCOL) == 0;
}

#if BN_ICOUNT_SUPPORTED
/* Sends `sig` to this thread with sival_ptr = value. The marks are out of line so that their overhead is the same
 * at every call site (see the note above). */
__attribute__((noinline, unused)) static void bn_icount_signal(int sig, void* value) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = sig;
    info.si_code = SI_QUEUE;
    info.si_pid = getpid();
    info.si_uid = getuid();
    info.si_value.sival_ptr = value;
    syscall(SYS_rt_tgsigqueueinfo, (long)info.si_pid, (long)syscall(SYS_gettid), (long)sig, &info);
}

/* Starts the region `label` (call only when bn_icount_active()). */
__attribute__((noinline, unused)) static void bn_icount_begin(const char* label) {
    bn_icount_signal(SIGUSR1, (void*)(uintptr_t)label);
}

/* Ends the current region; the tracer stores its raw instruction count in *out when out is not NULL. */
__attribute__((noinline, unused)) static void bn_icount_end(uint64_t* out) { bn_icount_signal(SIGUSR2, out); }
#else
static inline void bn_icount_begin(const char* label) { (void)label; }
static inline void bn_icount_end(uint64_t* out) { (void)out; }
#endif

#endif
