using BitNet.Interop;

namespace BitNet.Tests;

public sealed class NativeVersionTests
{
    [Test]
    public void LoadedLibraryIsTheVersionTheBindingsWereGeneratedFor()
    {
        Assert.Multiple(() =>
        {
            Assert.That(NativeVersion.Number, Is.EqualTo((uint)NativeConstants.BN_VERSION));
            Assert.That(NativeVersion.Text, Is.EqualTo($"{NativeConstants.BN_VERSION_MAJOR}.{NativeConstants.BN_VERSION_MINOR}.{NativeConstants.BN_VERSION_PATCH}"));
            Assert.That(NativeVersion.Major, Is.EqualTo(NativeConstants.BN_VERSION_MAJOR));
            Assert.That(() => NativeVersion.EnsureCompatible(), Throws.Nothing);
        });
    }
}
