using BitNet.Bindings;

namespace BitNet.Tests.Interop;

public sealed class BindingsUpToDateTests
{
    [Test]
    public void GeneratedBindingsMatchTheHeader()
    {
        string committed = RepositoryPaths.GeneratedBindings;
        Assert.That(File.Exists(committed), Is.True,
            $"{committed} is missing: run ./build.sh bindings");
        string expected = new BindingsGenerator().Generate(RepositoryPaths.Header);
        string actual = File.ReadAllText(committed);
        Assert.That(actual, Is.EqualTo(expected),
            "managed/BitNet/Interop/NativeMethods.g.cs is out of date with native/include/bitnet.h: run ./build.sh bindings");
    }
}
