// The entry point: header in, text of NativeMethods.g.cs out.
using System;
using System.IO;
using System.Linq;

namespace BitNet.Bindings;

/// <summary>Turns a C header into the C# P/Invoke file (constants, enums, structs, opaque handles, functions).</summary>
public sealed class BindingsGenerator
{
    /// <summary>clang's builtin headers (stddef.h, stdint.h's helpers), passed to libclang with -isystem.
    /// Defaults to the newest /usr/lib/llvm-14/lib/clang/*/include (Debian's libclang-common-14-dev).</summary>
    public string? ClangIncludeDirectory { get; init; } = FindClangIncludeDirectory();

    /// <summary>Receives one line per declaration the generator deliberately leaves out (macros that are not
    /// integer constants, static functions, variables).</summary>
    public Action<string>? Note { get; init; }

    /// <summary>The full text of the C# file for <paramref name="headerPath"/>; the same header gives the same
    /// bytes. Throws <see cref="HeaderParseException"/> when clang reports errors and
    /// <see cref="UnsupportedDeclarationException"/> when a declaration has no exact C# form.</summary>
    public string Generate(string headerPath)
    {
        using var tu = new TranslationUnit(headerPath, ClangIncludeDirectory);
        var model = new HeaderReader(tu, Note ?? (_ => { })).Read(DisplayPath(tu.HeaderPath));
        return CSharpEmitter.Emit(model);
    }

    public static string? FindClangIncludeDirectory()
    {
        const string root = "/usr/lib/llvm-14/lib/clang";
        if (!Directory.Exists(root)) return null;
        return Directory.GetDirectories(root)
            .Select(version => Path.Combine(version, "include"))
            .Where(include => File.Exists(Path.Combine(include, "stddef.h")))
            .OrderByDescending(include => include, StringComparer.Ordinal)
            .FirstOrDefault();
    }

    /// <summary>The header's path relative to the repository that holds it (the nearest directory with a .git),
    /// so the generated file reads the same in every checkout; the bare file name outside a repository.</summary>
    private static string DisplayPath(string headerPath)
    {
        for (var dir = Path.GetDirectoryName(headerPath); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            var git = Path.Combine(dir, ".git");
            if (Directory.Exists(git) || File.Exists(git))
                return Path.GetRelativePath(dir, headerPath).Replace('\\', '/');
        }
        return Path.GetFileName(headerPath);
    }
}
