using BitNet.Interop;

namespace BitNet;

/// <summary>A libbitnet call failed: <see cref="Status"/> is what it returned, <see cref="NativeMessage"/> what
/// <c>bn_last_error()</c> said about it on the calling thread.</summary>
public class BitNetException : Exception
{
    /// <summary>Creates an exception for a failed call.</summary>
    public BitNetException(BnStatus status, string nativeMessage)
        : base(Describe(status, nativeMessage))
    {
        Status = status;
        NativeMessage = nativeMessage;
    }

    /// <summary>For errors found in managed code (a malformed file, say) that map onto a native status.</summary>
    protected BitNetException(BnStatus status, string message, Exception? inner)
        : base(message, inner)
    {
        Status = status;
        NativeMessage = "";
    }

    /// <summary>The status the native call returned (never <see cref="BnStatus.Ok"/>).</summary>
    public BnStatus Status { get; }

    /// <summary>The native library's message for this failure ("" if it left none).</summary>
    public string NativeMessage { get; }

    /// <summary>Throws a <see cref="BitNetException"/> unless <paramref name="status"/> is <see cref="BnStatus.Ok"/>.
    /// Call it directly on the result of the native call, on the same thread, so that <c>bn_last_error()</c> still holds
    /// that call's message.</summary>
    public static void Check(BnStatus status)
    {
        if (status != BnStatus.Ok) throw FromLastError(status);
    }

    /// <summary>An exception for <paramref name="status"/> carrying this thread's <c>bn_last_error()</c>.</summary>
    public static unsafe BitNetException FromLastError(BnStatus status) =>
        new(status, NativeString.Read(NativeMethods.bn_last_error()));

    /// <summary>libbitnet's English name of a status ("invalid pointer", ...).</summary>
    public static unsafe string StatusName(BnStatus status) => NativeString.Read(NativeMethods.bn_status_string(status));

    private static string Describe(BnStatus status, string nativeMessage)
    {
        string name;
        try
        {
            name = StatusName(status);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            name = status.ToString();
        }
        return string.IsNullOrEmpty(nativeMessage) ? $"libbitnet: {name}" : $"libbitnet: {name}: {nativeMessage}";
    }
}
