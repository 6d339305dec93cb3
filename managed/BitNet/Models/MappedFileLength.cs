namespace BitNet.Models;

/// <summary>The length of a file about to be memory-mapped.</summary>
internal static class MappedFileLength
{
    /// <summary>The bytes of the file at <paramref name="path"/>, following symbolic links: <c>new FileInfo(path).Length</c>
    /// is the link's own length (lstat), which made a linked model look truncated. The opened stream's length is the
    /// target's (fstat).</summary>
    public static long Of(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1);
        return stream.Length;
    }
}
