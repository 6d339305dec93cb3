using BitNet.Interop;

namespace BitNet.Tests.Interop;

public sealed class NativeLibraryResolverTests
{
    private string _temp = "";

    [SetUp]
    public void CreateTemp() => _temp = Directory.CreateTempSubdirectory("bitnet-resolver-").FullName;

    [TearDown]
    public void DeleteTemp() => Directory.Delete(_temp, recursive: true);

    [Test]
    public void TheResolverLoadedTheLibraryBesideTheTests()
    {
        _ = NativeVersion.Number; // the first native call makes the runtime ask the resolver
        string? loaded = NativeLibraryResolver.LoadedPath;
        Assert.That(loaded, Is.Not.Null, "the resolver, not the default probing, found libbitnet");
        string? env = Environment.GetEnvironmentVariable(NativeLibraryResolver.NativeDirVariable);
        string expectedDir = string.IsNullOrEmpty(env) ? AppContext.BaseDirectory : env;
        Assert.Multiple(() =>
        {
            Assert.That(File.Exists(loaded), Is.True);
            Assert.That(Path.GetFileName(loaded), Is.EqualTo(NativeLibraryResolver.FileName));
            Assert.That(Path.GetFullPath(Path.GetDirectoryName(loaded)!), Is.EqualTo(Path.GetFullPath(expectedDir).TrimEnd(Path.DirectorySeparatorChar)));
        });
    }

    [Test]
    public void CandidatesFollowTheDocumentedOrder()
    {
        string repo = Path.Combine(_temp, "repo");
        string app = Path.Combine(repo, "tests", "bin", "Release");
        string env = Path.Combine(_temp, "custom");
        string lib = NativeLibraryResolver.FileName;
        foreach (string config in new[] { "zeta", "native-release", "alpha", "asan" })
        {
            Directory.CreateDirectory(Path.Combine(repo, "build", config, "native"));
            File.WriteAllText(Path.Combine(repo, "build", config, "native", lib), "");
        }
        File.WriteAllText(Path.Combine(repo, "build", "asan", "CMakeCache.txt"), "CMAKE_BUILD_TYPE:STRING=Debug\nBN_SANITIZE:BOOL=ON\n");
        Directory.CreateDirectory(Path.Combine(repo, "build", "empty", "native"));
        Directory.CreateDirectory(app);

        IReadOnlyList<string> candidates = NativeLibraryResolver.Candidates([app], env);

        string rid = NativeLibraryResolver.RuntimeIdentifier;
        Assert.That(candidates, Is.EqualTo(new[]
        {
            Path.Combine(env, lib),
            Path.Combine(app, "runtimes", rid, "native", lib),
            Path.Combine(app, lib),
            Path.Combine(repo, "build", "native-release", "native", lib),
            Path.Combine(repo, "build", "alpha", "native", lib),
            Path.Combine(repo, "build", "zeta", "native", lib),
        }));
    }

    [Test]
    public void WithoutTheVariableOrABuildFolderOnlyTheAppFolderIsSearched()
    {
        string app = Path.Combine(_temp, "app");
        Directory.CreateDirectory(app);
        IReadOnlyList<string> candidates = NativeLibraryResolver.Candidates([app, app + Path.DirectorySeparatorChar], null);
        string lib = NativeLibraryResolver.FileName;
        // a build/ folder above the temp folder (unlikely) would add candidates after these two
        Assert.That(candidates.Take(2), Is.EqualTo(new[]
        {
            Path.Combine(app, "runtimes", NativeLibraryResolver.RuntimeIdentifier, "native", lib),
            Path.Combine(app, lib),
        }));
        Assert.That(candidates.Skip(2).Where(c => c.StartsWith(_temp, StringComparison.Ordinal)), Is.Empty);
    }
}
