/* bitnet-icount: exact user-mode instruction counts of marked regions of a program, by single-stepping it with ptrace.
 *
 *   bitnet-icount [--quiet] -- PROGRAM [ARGS...]
 *
 * Why: the kernel benchmarks want instruction counts that later changes can compare without timing noise, for every
 * instruction set the CPU runs. valgrind 3.19 cannot decode VEX vpdpbusd (AVX-VNNI) nor AVX-512, and this VM exposes
 * no PMU (perf stat: <not supported>). Single-stepping counts whatever the CPU executes: each PTRACE_SINGLESTEP
 * runs one user-mode instruction (a syscall instruction counts as one; a rep-prefixed string instruction counts one
 * per iteration, as valgrind does). It is slow (~40 k instructions per second on a 2-core VM: two context switches a
 * step), so regions should be one call. Counts are exact and repeat run after run: tests/native-bench/test_icount.c
 * checks loops of known length (AVX-512 and AVX-VNNI included), bench/icount.sh the kernels against callgrind.
 *
 * How: fork; the child does PTRACE_TRACEME and execs PROGRAM with BITNET_ICOUNT=1 in its environment. The tracer runs
 * it with PTRACE_CONT until the thread marks a region (icount.h: SIGUSR1 carrying the label, SIGUSR2 carrying where
 * to write the count), steps it through the region, writes the raw step count back into the program's memory and
 * prints "bitnet-icount: <label>: <steps>" on stderr. Only the thread that execs is traced (threads it creates run
 * untraced), so the measured calls must run on that thread: bn_threadpool_parallel_for with a NULL or one-thread
 * pool runs its job inline in the caller. Other signals are passed on unchanged.
 *
 * Exit status: PROGRAM's (128 + signal if it was killed); 77 when ptrace is not permitted here (seccomp, a container
 * without CAP_SYS_PTRACE, qemu-user, which does not implement ptrace for its guest); 2 on a usage error; 1 when
 * tracing fails or a region is left open. Linux on x86-64 and aarch64 only. */
#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "icount.h"

/* The child's exit status when PTRACE_TRACEME is refused (before exec). */
#define NO_PTRACE_STATUS 77

static void usage(FILE* f) { fprintf(f, "usage: bitnet-icount [--quiet] -- PROGRAM [ARGS...]\n"); }

/* Copies the NUL-terminated string at `addr` in the tracee into buf (cap bytes, always terminated). */
static void read_label(pid_t pid, uintptr_t addr, char* buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    if (addr == 0) {
        snprintf(buf, cap, "(unnamed)");
        return;
    }
    while (n + 1 < cap) {
        errno = 0;
        const long word = ptrace(PTRACE_PEEKDATA, pid, (void*)(addr + n), NULL);
        if (errno != 0) break;
        unsigned char bytes[sizeof word];
        memcpy(bytes, &word, sizeof word);
        for (size_t i = 0; i < sizeof word && n + 1 < cap; i++, n++) {
            buf[n] = (char)bytes[i];
            if (bytes[i] == '\0') return;
        }
    }
    buf[n] = '\0';
}

/* The signal of a signal-delivery stop and the value it carries; 0 for a stop that is not one. */
static int stop_signal(pid_t pid, int status, uintptr_t* value) {
    const int sig = WSTOPSIG(status);
    *value = 0;
    if ((status >> 16) != 0) return 0; /* a PTRACE_EVENT stop (exec) */
    siginfo_t si;
    if (ptrace(PTRACE_GETSIGINFO, pid, NULL, &si) != 0) return sig;
    if (sig == SIGUSR1 || sig == SIGUSR2) *value = (uintptr_t)si.si_value.sival_ptr;
    return sig;
}

int main(int argc, char** argv) {
    int quiet = 0, first = 1;
    for (; first < argc && strcmp(argv[first], "--") != 0; first++) {
        if (strcmp(argv[first], "--quiet") == 0) quiet = 1;
        else if (strcmp(argv[first], "--help") == 0 || strcmp(argv[first], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "bitnet-icount: unknown option '%s'\n", argv[first]);
            usage(stderr);
            return 2;
        }
    }
    if (first + 1 >= argc) {
        usage(stderr);
        return 2;
    }
    char** prog = argv + first + 1;

    fflush(NULL);
    const pid_t pid = fork();
    if (pid < 0) {
        perror("bitnet-icount: fork");
        return 1;
    }
    if (pid == 0) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) {
            fprintf(stderr, "bitnet-icount: ptrace is not permitted here (%s)\n", strerror(errno));
            _exit(NO_PTRACE_STATUS);
        }
        setenv(BN_ICOUNT_ENV, BN_ICOUNT_PROTOCOL, 1);
        execvp(prog[0], prog);
        fprintf(stderr, "bitnet-icount: cannot run %s: %s\n", prog[0], strerror(errno));
        _exit(127);
    }

    int status;
    /* The first stop is the SIGTRAP of the exec; exiting here means TRACEME or the exec failed. */
    if (waitpid(pid, &status, 0) != pid) {
        perror("bitnet-icount: waitpid");
        return 1;
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void*)(long)(PTRACE_O_EXITKILL | PTRACE_O_TRACEEXEC)) != 0) {
        const int e = errno;
        fprintf(stderr, "bitnet-icount: PTRACE_SETOPTIONS: %s\n", strerror(e));
        kill(pid, SIGKILL);
        return e == EPERM || e == ENOSYS ? NO_PTRACE_STATUS : 1;
    }

    char label[BN_ICOUNT_LABEL_MAX] = "";
    int stepping = 0, open_regions = 0, failed = 0;
    uint64_t steps = 0;
    int deliver = 0; /* the signal to pass on at the next resume */
    for (;;) {
        if (ptrace(stepping ? PTRACE_SINGLESTEP : PTRACE_CONT, pid, NULL, (void*)(long)deliver) != 0) {
            const int e = errno;
            fprintf(stderr, "bitnet-icount: %s: %s\n", stepping ? "PTRACE_SINGLESTEP" : "PTRACE_CONT", strerror(e));
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return e == EPERM || e == EIO || e == ENOSYS ? NO_PTRACE_STATUS : 1;
        }
        deliver = 0;
        if (waitpid(pid, &status, __WALL) != pid) {
            perror("bitnet-icount: waitpid");
            return 1;
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) break;
        if (!WIFSTOPPED(status)) continue;
        uintptr_t value;
        const int sig = stop_signal(pid, status, &value);
        if (sig == 0) continue; /* exec event: resume */
        if (stepping && sig == SIGTRAP) {
            steps++; /* one instruction done */
        } else if (sig == SIGUSR1) {
            if (stepping) {
                fprintf(stderr, "bitnet-icount: region '%s' not ended before the next begin\n", label);
                failed = 1;
            }
            read_label(pid, value, label, sizeof label);
            stepping = 1;
            steps = 0;
            open_regions = 1;
        } else if (sig == SIGUSR2) {
            if (!stepping) {
                fprintf(stderr, "bitnet-icount: end mark without a begin\n");
                failed = 1;
                continue;
            }
            stepping = 0;
            open_regions = 0;
            if (value != 0 && ptrace(PTRACE_POKEDATA, pid, (void*)value, (void*)(uintptr_t)steps) != 0) {
                fprintf(stderr, "bitnet-icount: cannot write the count of '%s' at %#" PRIxPTR ": %s\n", label, value,
                        strerror(errno));
                failed = 1;
            }
            if (!quiet) fprintf(stderr, "bitnet-icount: %s: %" PRIu64 "\n", label, steps);
        } else {
            deliver = sig; /* the program's own signal */
        }
    }
    if (open_regions) {
        fprintf(stderr, "bitnet-icount: the program ended inside region '%s'\n", label);
        failed = 1;
    }
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return failed ? 1 : WEXITSTATUS(status);
}

#else

#include <stdio.h>

int main(void) {
    fprintf(stderr, "bitnet-icount: needs Linux on x86-64 or aarch64 (ptrace single-stepping)\n");
    return 77;
}

#endif
