using BitNet.Interop;

namespace BitNet;

/// <summary>The version of the libbitnet this process loaded, and the check that its ABI is the one these bindings
/// were generated from (same major version).</summary>
public static class NativeVersion
{
    private static volatile bool s_compatible;

    /// <summary>The loaded library's version as "major.minor.patch" (<c>bn_version_string()</c>).</summary>
    public static unsafe string Text => NativeString.Read(NativeMethods.bn_version_string());

    /// <summary>The loaded library's version encoded as major * 10000 + minor * 100 + patch (<c>bn_version()</c>).</summary>
    public static uint Number => NativeMethods.bn_version();

    /// <summary>The loaded library's major version.</summary>
    public static int Major => (int)(Number / 10000);

    /// <summary>The version of the header the bindings were generated from (<c>BN_VERSION</c>).</summary>
    public static int Expected => NativeConstants.BN_VERSION;

    /// <summary>The major version the bindings require (<c>BN_VERSION_MAJOR</c>).</summary>
    public static int ExpectedMajor => NativeConstants.BN_VERSION_MAJOR;

    /// <summary>Throws unless the loaded library's major version equals <see cref="ExpectedMajor"/>. Every entry point of
    /// this library calls it before its first native call; after one success it costs a field read.</summary>
    /// <exception cref="BitNetException">The versions differ (status <see cref="BnStatus.ErrUnsupported"/>).</exception>
    public static void EnsureCompatible()
    {
        if (s_compatible) return;
        uint loaded = Number;
        if (loaded / 10000 != (uint)NativeConstants.BN_VERSION_MAJOR)
        {
            string from = NativeLibraryResolver.LoadedPath ?? "the default search path";
            throw new BitNetException(BnStatus.ErrUnsupported,
                $"libbitnet {loaded / 10000}.{loaded / 100 % 100}.{loaded % 100} (loaded from {from}) does not match the " +
                $"bindings, which were generated for ABI major version {NativeConstants.BN_VERSION_MAJOR} " +
                $"({NativeConstants.BN_VERSION}); use the libbitnet built from the same sources as BitNet.dll");
        }
        s_compatible = true;
    }
}
