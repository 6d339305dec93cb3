using System.Runtime.InteropServices;

namespace BitNet.Interop;

/// <summary>A reference on a <see cref="SafeHandle"/> held for the duration of a native call, so that a concurrent
/// Dispose or finalisation cannot release the native object under it. <c>using (handle.Use()) { ... }</c></summary>
internal readonly ref struct HandleReference
{
    private readonly SafeHandle _handle;

    /// <exception cref="ObjectDisposedException">The handle is already closed.</exception>
    public HandleReference(SafeHandle handle)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        _handle = handle;
    }

    public void Dispose() => _handle.DangerousRelease();
}
