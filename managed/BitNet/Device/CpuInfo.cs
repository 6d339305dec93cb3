using BitNet.Interop;

namespace BitNet;

/// <summary>What libbitnet detected about this CPU and which kernel implementations its dispatch chose.</summary>
public static class CpuInfo
{
    /// <summary>The features this CPU and OS support (the OS must save the vector state they need).</summary>
    public static BnCpuFeature Features
    {
        get
        {
            NativeVersion.EnsureCompatible();
            return (BnCpuFeature)NativeMethods.bn_cpu_features();
        }
    }

    /// <summary>The features kernel dispatch may use now (<see cref="Features"/> unless restricted).</summary>
    public static BnCpuFeature EnabledFeatures
    {
        get
        {
            NativeVersion.EnsureCompatible();
            return (BnCpuFeature)NativeMethods.bn_cpu_features_enabled();
        }
    }

    /// <summary>The CPU's name ("AMD EPYC ...", "unknown").</summary>
    public static unsafe string Name
    {
        get
        {
            NativeVersion.EnsureCompatible();
            return NativeString.Read(NativeMethods.bn_cpu_name());
        }
    }

    /// <summary>The number of logical cores the OS reports.</summary>
    public static int LogicalCores
    {
        get
        {
            NativeVersion.EnsureCompatible();
            return NativeMethods.bn_cpu_count();
        }
    }

    /// <summary>The kernel table: for each operation, the implementation dispatch chose ("scalar", "avx2", ...).</summary>
    public static unsafe IReadOnlyList<(string Op, string Impl)> Kernels
    {
        get
        {
            NativeVersion.EnsureCompatible();
            int count = NativeMethods.bn_kernel_count();
            var kernels = new (string Op, string Impl)[count];
            for (int i = 0; i < count; i++)
            {
                byte* op, impl;
                BitNetException.Check(NativeMethods.bn_kernel_info(i, &op, &impl));
                kernels[i] = (NativeString.Read(op), NativeString.Read(impl));
            }
            return kernels;
        }
    }

    /// <summary>Restricts dispatch to the supported features in <paramref name="mask"/> (none: scalar only) and chooses
    /// every kernel again. For tests and benchmarks that compare implementations; not safe while kernels run.</summary>
    public static void SetEnabledFeatures(BnCpuFeature mask)
    {
        NativeVersion.EnsureCompatible();
        BitNetException.Check(NativeMethods.bn_cpu_set_enabled((ulong)mask));
    }

    /// <summary>Lets dispatch use every supported feature again (the default).</summary>
    public static void EnableAllFeatures()
    {
        NativeVersion.EnsureCompatible();
        BitNetException.Check(NativeMethods.bn_cpu_set_enabled(ulong.MaxValue));
    }

    /// <summary>The lower-case names of the features in <paramref name="set"/> ("avx2", "avx512f", "neon", ...), in
    /// bit order: the names of bitnet.h's <c>BN_CPU_*</c> values without the prefix.</summary>
    public static IReadOnlyList<string> FeatureNames(BnCpuFeature set)
    {
        var names = new List<string>();
        foreach (BnCpuFeature f in Enum.GetValues<BnCpuFeature>())
        {
            if (f != 0 && (set & f) == f && ((ulong)f & ((ulong)f - 1)) == 0) names.Add(FeatureName(f));
        }
        return names;
    }

    private static string FeatureName(BnCpuFeature feature)
    {
        string name = feature.ToString().ToLowerInvariant();
        return name.StartsWith("cpu", StringComparison.Ordinal) ? name[3..] : name;
    }
}
