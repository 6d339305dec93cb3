using BitNet.Interop;

namespace BitNet.Models;

/// <summary>The resident pages of a read-only file mapping that a loaded model no longer reads.</summary>
/// <remarks>Loading reads more of a mapped file than the forward pass keeps using: the tokenizer arrays and norms are
/// copied out, converted projections are copied, and each fault maps its neighbours too (fault-around, large page-cache
/// folios: whole 2 MiB runs were seen resident around every layer's norms). After load, every page outside the byte
/// ranges the native model references in place leaves the resident set (bn_mapping_release). This is only a hint to
/// the OS: a page that is read again faults back in from the file, so releasing too much costs time, never
/// correctness.</remarks>
internal static unsafe class MappedPages
{
    /// <summary>Releases [<paramref name="start"/>, start + <paramref name="length"/>) except the parts of it that
    /// <paramref name="kept"/> (address, length) ranges cover; kept ranges outside the mapping are ignored.</summary>
    public static void ReleaseOutside(byte* start, long length, IReadOnlyList<(nint Address, long Length)> kept)
    {
        nint lo = (nint)start, hi = lo + (nint)length;
        var inside = kept.Where(k => k.Address < hi && k.Address + (nint)k.Length > lo)
            .Select(k => (Start: Math.Max(k.Address, lo), End: Math.Min(k.Address + (nint)k.Length, hi)))
            .OrderBy(k => k.Start)
            .ToList();
        nint cursor = lo;
        foreach (var (s, e) in inside)
        {
            if (s > cursor) Release(cursor, s);
            if (e > cursor) cursor = e;
        }
        if (hi > cursor) Release(cursor, hi);
    }

    // bn_mapping_release releases only the pages wholly inside the range, so a kept range's edge pages stay
    private static void Release(nint from, nint to) =>
        BitNetException.Check(NativeMethods.bn_mapping_release((void*)from, (nuint)(to - from)));
}
