using System.Buffers.Binary;
using System.Text;

namespace BitNet.TrainingBenchmarks.Torch;

/// <summary>
/// TorchSharp 0.107.0's libLibTorchSharp.so is built with GCC 13, whose &lt;iostream&gt; adds a symbol-version
/// requirement GLIBCXX_3.4.32 (for <c>std::ios_base_library_init()</c>) that libstdc++ 12 (Debian 12, our
/// developers' and CI's machines) lacks, so the library fails to load ("version `GLIBCXX_3.4.32' not found").
/// The symbol is only a marker: GCC 13 emits <c>.globl _ZSt21ios_base_library_initv</c> and no relocation refers
/// to it (checked with <c>readelf -r</c>), and libtorch's own translation units still construct the standard
/// streams. So the requirement can be marked weak (VER_FLG_WEAK in its .gnu.version_r entry): glibc then only
/// notes a missing weak version instead of refusing to load. This patches the copies in this program's own
/// output folder (never the NuGet cache), once, before TorchSharp loads them, and only when the loaded
/// libstdc++ lacks the version.
/// </summary>
internal static class LibstdcxxCompat
{
    private const string NeededVersion = "GLIBCXX_3.4.32";
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    public static void Apply()
    {
        if (!OperatingSystem.IsLinux()) return;
        string? libstdcxx = LoadedLibstdcxx();
        if (libstdcxx is null || ContainsVersionString(File.ReadAllBytes(libstdcxx))) return;

        string baseDir = AppContext.BaseDirectory;
        foreach (string path in new[]
                 {
                     Path.Combine(baseDir, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
                     Path.Combine(baseDir, "cpu", "libLibTorchSharp.so"), // TorchSharp's fallback folder
                 })
        {
            if (!File.Exists(path)) continue;
            byte[] elf = File.ReadAllBytes(path);
            if (!MarkWeak(elf, "libstdc++.so.6", NeededVersion)) continue;
            // write to a temporary name, then rename over the original
            string tmp = path + ".tmp";
            File.WriteAllBytes(tmp, elf);
            File.Move(tmp, path, overwrite: true);
            Console.Error.WriteLine($"torch-train-bench: {libstdcxx} lacks {NeededVersion}; marked that requirement " +
                                    $"weak in {path}");
        }
    }

    // The libstdc++.so.6 this process has loaded (the .NET runtime links it), from /proc/self/maps.
    private static string? LoadedLibstdcxx()
    {
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            int slash = line.IndexOf('/');
            if (slash >= 0 && line.AsSpan(slash).Contains("libstdc++.so.6", StringComparison.Ordinal))
                return line[slash..];
        }
        return null;
    }

    private static bool ContainsVersionString(byte[] lib) =>
        lib.AsSpan().IndexOf(Encoding.ASCII.GetBytes(NeededVersion + "\0")) >= 0;

    /// <summary>Sets VER_FLG_WEAK on the (file, version) entry of an ELF64 little-endian object's
    /// .gnu.version_r. Returns true when it changed something.</summary>
    private static bool MarkWeak(byte[] b, string file, string version)
    {
        if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[4] != 2 /* ELFCLASS64 */ || b[5] != 1 /* LSB */)
            throw new InvalidDataException("not a little-endian ELF64 file");
        // ELF64 header: e_shoff @0x28, e_shentsize @0x3A, e_shnum @0x3C
        long shoff = (long)U64(b, 0x28);
        int shentsize = U16(b, 0x3A), shnum = U16(b, 0x3C);
        // section header: sh_type @4, sh_offset @24, sh_link @40
        int Section(long i) => checked((int)(shoff + i * shentsize));
        for (int i = 0; i < shnum; i++)
        {
            int sh = Section(i);
            if (U32(b, sh + 4) != ShtGnuVerneed) continue;
            int verneed = checked((int)U64(b, sh + 24));
            int strtab = checked((int)U64(b, Section(U32(b, sh + 40)) + 24));
            string Str(uint offset)
            {
                ReadOnlySpan<byte> s = b.AsSpan(strtab + (int)offset);
                return Encoding.ASCII.GetString(s[..s.IndexOf((byte)0)]);
            }
            // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32
            // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32
            for (int vn = verneed; ;)
            {
                int count = U16(b, vn + 2);
                bool fileMatches = Str(U32(b, vn + 4)) == file;
                int aux = vn + (int)U32(b, vn + 8);
                for (int k = 0; k < count && fileMatches; k++)
                {
                    if (Str(U32(b, aux + 8)) == version)
                    {
                        ushort flags = U16(b, aux + 4);
                        if ((flags & VerFlgWeak) != 0) return false;
                        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(aux + 4), (ushort)(flags | VerFlgWeak));
                        return true;
                    }
                    aux += (int)U32(b, aux + 12);
                }
                uint next = U32(b, vn + 12);
                if (next == 0) break;
                vn += (int)next;
            }
        }
        return false;
    }

    private static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));
    private static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));
    private static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));
}
