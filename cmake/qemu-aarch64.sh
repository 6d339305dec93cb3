#!/bin/sh
# Runs an arm64 test binary under qemu-user; BN_QEMU_CPU picks the emulated core (default: max).
exec qemu-aarch64 -cpu "${BN_QEMU_CPU:-max}" -L /usr/aarch64-linux-gnu "$@"
