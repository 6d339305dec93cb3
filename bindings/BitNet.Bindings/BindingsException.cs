// Why a header cannot be turned into bindings. The tool maps these to exit codes; tests can assert on them.
using System;
using System.Collections.Generic;

namespace BitNet.Bindings;

/// <summary>The header does not compile: libclang reported diagnostics of severity error (or fatal).</summary>
public sealed class HeaderParseException(string headerPath, IReadOnlyList<string> diagnostics)
    : Exception($"{headerPath} does not parse:\n  " + string.Join("\n  ", diagnostics))
{
    public string HeaderPath { get; } = headerPath;

    /// <summary>Every diagnostic of the translation unit, formatted as clang prints them ("file:line:col: error: ...").</summary>
    public IReadOnlyList<string> Diagnostics { get; } = diagnostics;
}

/// <summary>The header parses, but a declaration in it has no exact blittable C# form (an unknown type, a union,
/// a bit-field, a layout the C# sequential layout cannot reproduce, ...). The message names the declaration.</summary>
public sealed class UnsupportedDeclarationException(string declaration, string problem)
    : Exception($"{declaration}: {problem}")
{
    public string Declaration { get; } = declaration;
}
