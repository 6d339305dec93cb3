using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace BitNet.Interop;

/// <summary>
/// Finds libbitnet for the <c>[LibraryImport("bitnet")]</c> declarations of this assembly. Registered once, by a module
/// initializer, before any P/Invoke runs. The first candidate that loads wins; the order is fixed:
/// <list type="number">
/// <item>the folder named by the environment variable <c>BITNET_NATIVE_DIR</c>, when it is set (an explicit choice
///   beats every copy found by convention, e.g. to test a sanitizer or debug build);</item>
/// <item><c>&lt;app dir&gt;/runtimes/&lt;rid&gt;/native/</c>, where the BitNet.Native package puts it;</item>
/// <item><c>&lt;app dir&gt;/</c>, where the repository build and the NativeAOT publish copy it;</item>
/// <item>the CMake build folders of a repository checkout: walking up from the app folder, at the first folder that
///   holds a <c>build/</c> folder with a library in it, <c>build/native-release/native/</c>, then every other
///   <c>build/*/native/</c> in ordinal order of folder name, skipping sanitizer builds (their CMake cache has
///   <c>BN_SANITIZE:BOOL=ON</c>: loading one into a process without the sanitizer runtime can abort it);</item>
/// <item>the default probing of the runtime (LD_LIBRARY_PATH, the system folders).</item>
/// </list>
/// The app folder is <see cref="AppContext.BaseDirectory"/>, then this assembly's folder when that differs.
/// Under NativeAOT with libbitnet linked in statically (DirectPInvoke) the runtime binds the calls directly and never
/// asks the resolver, so <see cref="LoadedPath"/> stays null.
/// </summary>
public static class NativeLibraryResolver
{
    /// <summary>The library name the P/Invoke declarations use.</summary>
    public const string LibraryName = "bitnet";

    /// <summary>The environment variable that names a folder to load libbitnet from before any other.</summary>
    public const string NativeDirVariable = "BITNET_NATIVE_DIR";

    private static string? s_loadedPath;

    /// <summary>The file this resolver loaded libbitnet from; null until the first native call, and when the library
    /// was linked statically or found by the runtime's default probing.</summary>
    public static string? LoadedPath => Volatile.Read(ref s_loadedPath);

    /// <summary>The file name of the shared library on this OS (libbitnet.so, libbitnet.dylib, bitnet.dll).</summary>
    public static string FileName =>
        OperatingSystem.IsWindows() ? "bitnet.dll" : OperatingSystem.IsMacOS() ? "libbitnet.dylib" : "libbitnet.so";

    /// <summary>The portable runtime identifier of this process (linux-x64, osx-arm64, win-x64, ...).</summary>
    public static string RuntimeIdentifier
    {
        get
        {
            string os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
            string arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
            return $"{os}-{arch}";
        }
    }

#pragma warning disable CA2255 // a library module initializer is the point: the resolver must exist before any P/Invoke
    [ModuleInitializer]
    internal static void Register() =>
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraryResolver).Assembly, Resolve);
#pragma warning restore CA2255

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != LibraryName) return 0;
        foreach (string candidate in Candidates(AppFolders(), Environment.GetEnvironmentVariable(NativeDirVariable)))
        {
            if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out nint handle))
            {
                Volatile.Write(ref s_loadedPath, candidate);
                return handle;
            }
        }
        return 0; // the runtime's default probing follows
    }

    private static IEnumerable<string> AppFolders()
    {
        yield return AppContext.BaseDirectory;
        string? assemblyDir = AssemblyDirectory();
        if (assemblyDir is not null) yield return assemblyDir;
    }

    [UnconditionalSuppressMessage("SingleFile", "IL3000", Justification = "Location is empty under single-file and NativeAOT; the app folder covers that case.")]
    private static string? AssemblyDirectory()
    {
        string location = typeof(NativeLibraryResolver).Assembly.Location;
        return string.IsNullOrEmpty(location) ? null : Path.GetDirectoryName(location);
    }

    /// <summary>The files the resolver tries, in order (see the type's remarks), for the given app folders and value of
    /// <c>BITNET_NATIVE_DIR</c>. Only the build-folder step looks at the disk; other candidates may not exist.</summary>
    internal static IReadOnlyList<string> Candidates(IEnumerable<string> appFolders, string? nativeDirVariable)
    {
        var result = new List<string>();
        void Add(string path)
        {
            string full = Path.GetFullPath(path);
            if (!result.Contains(full, StringComparer.Ordinal)) result.Add(full);
        }

        if (!string.IsNullOrEmpty(nativeDirVariable)) Add(Path.Combine(nativeDirVariable, FileName));
        var folders = appFolders.Where(f => !string.IsNullOrEmpty(f)).Select(Path.GetFullPath).Distinct(StringComparer.Ordinal).ToList();
        foreach (string folder in folders) Add(Path.Combine(folder, "runtimes", RuntimeIdentifier, "native", FileName));
        foreach (string folder in folders) Add(Path.Combine(folder, FileName));
        foreach (string folder in folders)
            foreach (string built in BuildFolderCandidates(folder))
                Add(built);
        return result;
    }

    /// <summary>Walks up from <paramref name="start"/> to the first folder whose <c>build/</c> holds a libbitnet, and
    /// lists those libraries: native-release first, then the rest in ordinal order, sanitizer builds left out.</summary>
    private static List<string> BuildFolderCandidates(string start)
    {
        var found = new List<string>();
        for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
        {
            string build = Path.Combine(dir.FullName, "build");
            if (!Directory.Exists(build)) continue;
            string[] configs;
            try
            {
                configs = Directory.GetDirectories(build);
            }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            Array.Sort(configs, (a, b) =>
            {
                bool ra = Path.GetFileName(a) == "native-release", rb = Path.GetFileName(b) == "native-release";
                return ra != rb ? (ra ? -1 : 1) : string.CompareOrdinal(a, b);
            });
            foreach (string config in configs)
            {
                string lib = Path.Combine(config, "native", FileName);
                if (File.Exists(lib) && !IsSanitizerBuild(config)) found.Add(lib);
            }
            if (found.Count > 0) break;
        }
        return found;
    }

    private static bool IsSanitizerBuild(string cmakeBuildDir)
    {
        string cache = Path.Combine(cmakeBuildDir, "CMakeCache.txt");
        try
        {
            return File.Exists(cache) && File.ReadLines(cache).Any(l => l.StartsWith("BN_SANITIZE:BOOL=ON", StringComparison.Ordinal));
        }
        catch (IOException) { return false; }
    }
}
