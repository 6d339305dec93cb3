namespace BitNet.Tests;

/// <summary>Paths inside the repository checkout the tests run from.</summary>
internal static class RepositoryPaths
{
    private static readonly Lazy<string> s_root = new(FindRoot);

    /// <summary>The folder holding BitNetNative.sln, found by walking up from the test assembly.</summary>
    public static string Root => s_root.Value;

    public static string Header => Path.Combine(Root, "native", "include", "bitnet.h");

    public static string GeneratedBindings => Path.Combine(Root, "managed", "BitNet", "Interop", "NativeMethods.g.cs");

    /// <summary>The NativeAOT CLI that every ./build.sh mode leaves behind (CLI.md).</summary>
    public static string PublishedCli => Path.Combine(Root, "artifacts", "bin", OperatingSystem.IsWindows() ? "bitnet.exe" : "bitnet");

    /// <summary>../shared/fixtures beside the checkout: the reference models (see its README).</summary>
    public static string Fixtures => Path.GetFullPath(Path.Combine(Root, "..", "shared", "fixtures"));

    /// <summary>A fixture path, or Assert.Ignore when ../shared is not beside this checkout.</summary>
    public static string Fixture(params string[] parts)
    {
        string path = Path.Combine([Fixtures, .. parts]);
        if (!File.Exists(path) && !Directory.Exists(path)) Assert.Ignore($"fixture not found: {path}");
        return path;
    }

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "BitNetNative.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no BitNetNative.sln above {AppContext.BaseDirectory}");
    }
}
