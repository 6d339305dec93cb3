// Parses one C header with libclang and owns the index and translation unit that come with it.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;

namespace BitNet.Bindings;

internal sealed unsafe class TranslationUnit : IDisposable
{
    private nint _index;
    private nint _tu;

    public string HeaderPath { get; }

    /// <summary>The header's text split into lines, for the comments libclang does not attach to cursors (macros).</summary>
    public string[] Lines { get; }

    public CXCursor Cursor => Clang.clang_getTranslationUnitCursor(_tu);

    /// <summary>Parses <paramref name="headerPath"/> as C11. Throws <see cref="HeaderParseException"/> on errors.</summary>
    /// <param name="builtinIncludeDirectory">clang's own headers (stddef.h, ...), passed with -isystem.</param>
    public TranslationUnit(string headerPath, string? builtinIncludeDirectory)
    {
        HeaderPath = Path.GetFullPath(headerPath);
        if (!File.Exists(HeaderPath)) throw new FileNotFoundException($"header not found: {HeaderPath}", HeaderPath);
        Lines = File.ReadAllText(HeaderPath).ReplaceLineEndings("\n").Split('\n');

        // -fparse-all-comments: bitnet.h uses plain /* */ comments, not Doxygen ones; with it libclang attaches a
        // comment to the declaration it precedes, and a same-line trailing comment to a field or enum constant.
        var args = new List<string> { "-x", "c", "-std=c11", "-fparse-all-comments" };
        if (builtinIncludeDirectory is not null) args.AddRange(["-isystem", builtinIncludeDirectory]);

        _index = Clang.clang_createIndex(0, 0);
        var native = args.Select(Marshal.StringToCoTaskMemUTF8).ToArray();
        var path = (byte*)Marshal.StringToCoTaskMemUTF8(HeaderPath);
        try
        {
            nint tu;
            int error;
            fixed (nint* argv = native)
                error = Clang.clang_parseTranslationUnit2(_index, path, (byte**)argv, native.Length, 0, 0,
                    Clang.DetailedPreprocessingRecord, &tu);
            if (error != 0)
            {
                Dispose();
                throw new HeaderParseException(HeaderPath, [$"libclang could not parse the file (CXErrorCode {error})"]);
            }
            _tu = tu;
        }
        finally
        {
            foreach (var a in native) Marshal.FreeCoTaskMem(a);
            Marshal.FreeCoTaskMem((nint)path);
        }

        var diagnostics = new List<string>();
        var failed = false;
        for (uint i = 0, n = Clang.clang_getNumDiagnostics(_tu); i < n; i++)
        {
            var d = Clang.clang_getDiagnostic(_tu, i);
            failed |= Clang.clang_getDiagnosticSeverity(d) >= Clang.SeverityError;
            diagnostics.Add(Clang.Take(Clang.clang_formatDiagnostic(d, Clang.clang_defaultDiagnosticDisplayOptions())));
            Clang.clang_disposeDiagnostic(d);
        }
        if (failed)
        {
            Dispose();
            throw new HeaderParseException(HeaderPath, diagnostics);
        }
    }

    /// <summary>The tokens a cursor spans (for a macro definition: its name, then its body).</summary>
    public List<(CXTokenKind Kind, string Text)> Tokens(CXCursor cursor)
    {
        CXToken* tokens;
        uint count;
        Clang.clang_tokenize(_tu, Clang.clang_getCursorExtent(cursor), &tokens, &count);
        var result = new List<(CXTokenKind, string)>((int)count);
        for (var i = 0; i < count; i++)
            result.Add((Clang.clang_getTokenKind(tokens[i]), Clang.Take(Clang.clang_getTokenSpelling(_tu, tokens[i]))));
        if (tokens != null) Clang.clang_disposeTokens(_tu, tokens, count);
        return result;
    }

    public void Dispose()
    {
        if (_tu != 0) Clang.clang_disposeTranslationUnit(_tu);
        _tu = 0;
        if (_index != 0) Clang.clang_disposeIndex(_index);
        _index = 0;
    }
}
