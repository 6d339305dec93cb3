using System.Runtime.InteropServices;

namespace BitNet.Interop;

/// <summary>Reads the NUL-terminated UTF-8 strings that libbitnet returns (static strings or thread-local messages).</summary>
internal static unsafe class NativeString
{
    /// <summary>The string at <paramref name="p"/>, or "" for a null pointer.</summary>
    public static string Read(byte* p) => p == null ? string.Empty : Marshal.PtrToStringUTF8((nint)p) ?? string.Empty;
}
