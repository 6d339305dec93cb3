namespace BitNet.Cli.Commands;

/// <summary>What `bitnet info` reports; printed as tables, or as this object in JSON with --json.</summary>
/// <param name="Version">The managed library's version (BitNet.dll).</param>
/// <param name="NativeVersion">The loaded libbitnet's version, "major.minor.patch".</param>
/// <param name="NativeVersionNumber">The same as major * 10000 + minor * 100 + patch (bn_version()).</param>
/// <param name="AbiVersion">The header version the bindings were generated from (BN_VERSION).</param>
/// <param name="NativeLibrary">"static" when libbitnet is linked into the executable, else the file loaded (or
/// "default search path").</param>
/// <param name="Cpu">The CPU and its features.</param>
/// <param name="Kernels">The implementation dispatch chose for each operation.</param>
/// <param name="Threads">Thread counts.</param>
/// <param name="Pool">The process-wide memory pool's counters.</param>
internal sealed record InfoReport(
    string Version,
    string NativeVersion,
    uint NativeVersionNumber,
    int AbiVersion,
    string NativeLibrary,
    CpuReport Cpu,
    IReadOnlyList<KernelReport> Kernels,
    ThreadReport Threads,
    PoolReport Pool);

/// <param name="Name">The CPU's name.</param>
/// <param name="Features">The features the CPU and OS support (bitnet.h's BN_CPU_* names, lower case).</param>
/// <param name="EnabledFeatures">The features dispatch may use.</param>
internal sealed record CpuReport(string Name, IReadOnlyList<string> Features, IReadOnlyList<string> EnabledFeatures);

/// <param name="Op">The operation ("abs_max_f32", ...).</param>
/// <param name="Impl">The implementation chosen ("scalar", "avx2", "avx512", "neon", ...).</param>
internal sealed record KernelReport(string Op, string Impl);

/// <param name="LogicalCores">The logical cores the OS reports.</param>
/// <param name="DefaultThreads">The threads a thread pool created with the default count has, the caller included.</param>
internal sealed record ThreadReport(int LogicalCores, int DefaultThreads);

/// <param name="Stats">The pool's totals.</param>
/// <param name="Classes">The counters of each size class ("small", "medium", "large").</param>
internal sealed record PoolReport(PoolStats Stats, IReadOnlyDictionary<string, PoolClassStats> Classes);
