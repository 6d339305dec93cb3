using System.Runtime.InteropServices;
using BitNet.Interop;

namespace BitNet.Tests.Device;

public sealed class CpuInfoTests
{
    /// <summary>bitnet.h's x86 feature names and the flag Linux prints for each in /proc/cpuinfo.</summary>
    private static readonly (string Ours, string Linux)[] X86Flags =
    [
        ("sse41", "sse4_1"), ("avx", "avx"), ("avx2", "avx2"), ("fma", "fma"), ("f16c", "f16c"),
        ("avx512f", "avx512f"), ("avx512bw", "avx512bw"), ("avx512vl", "avx512vl"), ("avx512vnni", "avx512_vnni"),
        ("avxvnni", "avx_vnni"), ("avx512bf16", "avx512_bf16"),
    ];

    /// <summary>Every implementation name the kernel table may show, and the features dispatch needs to choose it.</summary>
    private static readonly Dictionary<string, BnCpuFeature> KnownImplementations = new()
    {
        ["scalar"] = 0,
        ["avx2"] = BnCpuFeature.Avx2 | BnCpuFeature.Fma,
        ["avx512"] = BnCpuFeature.Avx512f | BnCpuFeature.Avx512bw,
        ["avx512vnni"] = BnCpuFeature.Avx512f | BnCpuFeature.Avx512vnni,
        ["avxvnni"] = BnCpuFeature.Avx2 | BnCpuFeature.Avxvnni,
        ["neon"] = BnCpuFeature.Neon,
        ["dotprod"] = BnCpuFeature.Neon | BnCpuFeature.Dotprod,
    };

    [Test]
    public void FeaturesMatchProcCpuinfoOnLinuxX64()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            Assert.Ignore("/proc/cpuinfo x86 flags: Linux x64 only");
        string? flagsLine = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
        Assert.That(flagsLine, Is.Not.Null, "/proc/cpuinfo has a flags line");
        var linux = flagsLine![(flagsLine.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        var ours = CpuInfo.FeatureNames(CpuInfo.Features).ToHashSet();

        Assert.Multiple(() =>
        {
            foreach ((string name, string flag) in X86Flags)
                Assert.That(ours.Contains(name), Is.EqualTo(linux.Contains(flag)), $"{name} (Linux flag {flag})");
            Assert.That(ours, Has.None.AnyOf("neon", "dotprod", "fp16"), "no arm64 features on x64");
        });
    }

    [Test]
    public void FeaturesAgreeWithTheRuntimesOwnDetection()
    {
        BnCpuFeature f = CpuInfo.Features;
        Assert.Multiple(() =>
        {
            Assert.That(f.HasFlag(BnCpuFeature.Avx2), Is.EqualTo(System.Runtime.Intrinsics.X86.Avx2.IsSupported), "avx2");
            Assert.That(f.HasFlag(BnCpuFeature.Fma), Is.EqualTo(System.Runtime.Intrinsics.X86.Fma.IsSupported), "fma");
            Assert.That(f.HasFlag(BnCpuFeature.Avx512f), Is.EqualTo(System.Runtime.Intrinsics.X86.Avx512F.IsSupported), "avx512f");
            Assert.That(f.HasFlag(BnCpuFeature.Neon), Is.EqualTo(System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported), "neon");
        });
    }

    [Test]
    public void EnabledFeaturesAreTheSupportedOnesByDefault()
    {
        Assert.Multiple(() =>
        {
            Assert.That(CpuInfo.EnabledFeatures, Is.EqualTo(CpuInfo.Features));
            Assert.That(CpuInfo.Name, Is.Not.Empty);
            // bn_cpu_count is the OS's count of online cores, not this process's affinity or cgroup quota
            if (OperatingSystem.IsLinux())
                Assert.That(CpuInfo.LogicalCores, Is.EqualTo(File.ReadLines("/proc/cpuinfo").Count(l => l.StartsWith("processor", StringComparison.Ordinal))));
            else
                Assert.That(CpuInfo.LogicalCores, Is.GreaterThanOrEqualTo(Environment.ProcessorCount));
        });
    }

    [Test]
    public void FeatureNamesAreTheHeadersNamesInBitOrder()
    {
        Assert.Multiple(() =>
        {
            Assert.That(CpuInfo.FeatureNames(BnCpuFeature.Avx2 | BnCpuFeature.Sse41 | BnCpuFeature.Avx512vnni),
                Is.EqualTo(new[] { "sse41", "avx2", "avx512vnni" }));
            Assert.That(CpuInfo.FeatureNames(0), Is.Empty);
            Assert.That(CpuInfo.FeatureNames(BnCpuFeature.Neon | BnCpuFeature.Dotprod | BnCpuFeature.Fp16),
                Is.EqualTo(new[] { "neon", "dotprod", "fp16" }));
        });
    }

    [Test]
    public void KernelTableNamesKnownImplementationsTheEnabledFeaturesAllow()
    {
        IReadOnlyList<(string Op, string Impl)> kernels = CpuInfo.Kernels;
        BnCpuFeature enabled = CpuInfo.EnabledFeatures;
        Assert.That(kernels, Is.Not.Empty);
        Assert.Multiple(() =>
        {
            Assert.That(kernels.Select(k => k.Op), Is.Unique);
            foreach ((string op, string impl) in kernels)
            {
                Assert.That(op, Does.Match("^[a-z0-9_]+$"), "op name");
                Assert.That(KnownImplementations.ContainsKey(impl), Is.True,
                    $"{op}: implementation '{impl}' is not in this test's table of known names; add it with the features it needs");
                if (KnownImplementations.TryGetValue(impl, out BnCpuFeature needs))
                    Assert.That(enabled & needs, Is.EqualTo(needs), $"{op} uses {impl} without its features");
            }
            Assert.That(kernels.Any(k => k.Op == "abs_max_f32"), Is.True, "abs_max_f32 is in the table");
        });
    }

    [Test, NonParallelizable]
    public void RestrictingFeaturesToNoneSelectsScalarEverywhereAndRestoringBringsTheTableBack()
    {
        var before = CpuInfo.Kernels;
        try
        {
            CpuInfo.SetEnabledFeatures(0);
            Assert.Multiple(() =>
            {
                Assert.That(CpuInfo.EnabledFeatures, Is.EqualTo((BnCpuFeature)0));
                Assert.That(CpuInfo.Kernels.Select(k => k.Impl), Is.All.EqualTo("scalar"));
            });
        }
        finally
        {
            CpuInfo.EnableAllFeatures();
        }
        Assert.Multiple(() =>
        {
            Assert.That(CpuInfo.Kernels, Is.EqualTo(before));
            Assert.That(CpuInfo.EnabledFeatures, Is.EqualTo(CpuInfo.Features));
        });
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported)
            Assert.That(before.Single(k => k.Op == "abs_max_f32").Impl, Is.Not.EqualTo("scalar"), "an AVX2 CPU gets a vector abs_max_f32");
    }
}
