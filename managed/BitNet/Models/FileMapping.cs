using System.IO.MemoryMappedFiles;

namespace BitNet.Models;

/// <summary>A read-only mapping of a whole model file (<see cref="GgufFile"/>, <see cref="SafetensorsFile"/>): the address
/// of its first byte, and the release of the resident pages a loaded model no longer reads (<see cref="MappedPages"/>).</summary>
internal sealed unsafe class FileMapping : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor? _view;

    /// <summary>Maps the file at <paramref name="path"/>, whose length the caller measured (<see cref="MappedFileLength"/>)
    /// and checked.</summary>
    public FileMapping(string path, long length)
    {
        Length = length;
        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            Base = p + _view.PointerOffset;
        }
        catch
        {
            _view?.Dispose();
            _map.Dispose();
            throw;
        }
    }

    /// <summary>The file's first byte; null once disposed.</summary>
    public byte* Base { get; private set; }

    /// <summary>The file's length in bytes.</summary>
    public long Length { get; }

    /// <summary>Releases the resident pages outside <paramref name="kept"/> (address, length) ranges.</summary>
    public void ReleasePagesOutside(IReadOnlyList<(nint Address, long Length)> kept) => MappedPages.ReleaseOutside(Base, Length, kept);

    /// <inheritdoc />
    public void Dispose()
    {
        if (Base != null)
        {
            _view!.SafeMemoryMappedViewHandle.ReleasePointer();
            Base = null;
        }
        _view?.Dispose();
        _map.Dispose();
    }
}
