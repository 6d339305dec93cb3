// The C# declarations the header turns into, in header order, ready to be written by CSharpEmitter.
// Doc is the cleaned comment text, one entry per line (empty when the header has no comment).
using System.Collections.Generic;

namespace BitNet.Bindings;

internal sealed record ConstantDecl(string Name, string CsType, string Value, string? Expression, IReadOnlyList<string> Doc);

internal sealed record EnumDecl(string CName, string CsName, string Underlying, bool IsFlags,
    IReadOnlyList<EnumMemberDecl> Members, IReadOnlyList<string> Doc);

internal sealed record EnumMemberDecl(string Name, string Value, IReadOnlyList<string> Doc);

/// <param name="Size">sizeof in C, from clang; the C# sequential layout was checked to match it.</param>
internal sealed record StructDecl(string CName, string CsName, long Size, bool IsUnsafe,
    IReadOnlyList<FieldDecl> Fields, IReadOnlyList<string> Doc);

/// <param name="FixedLength">For a C array field: its element count (the field is emitted as a fixed buffer).</param>
internal sealed record FieldDecl(string Name, string CsType, long? FixedLength, IReadOnlyList<string> Doc);

/// <summary>A struct the header declares but never defines: it only travels as a pointer, wrapped in a handle.</summary>
internal sealed record HandleDecl(string CName, string CsName, IReadOnlyList<string> Doc);

/// <param name="Remarks">Notes on parameters, e.g. which C function-pointer typedef a delegate* stands for.</param>
internal sealed record FunctionDecl(string Name, string ReturnType, IReadOnlyList<ParameterDecl> Parameters,
    IReadOnlyList<string> Doc, IReadOnlyList<string> Remarks);

internal sealed record ParameterDecl(string Name, string CsType);

internal sealed class HeaderModel
{
    /// <summary>The header's path as the generated file names it (relative to the repository root).</summary>
    public required string DisplayPath { get; init; }
    public List<ConstantDecl> Constants { get; } = [];
    public List<EnumDecl> Enums { get; } = [];
    public List<StructDecl> Structs { get; } = [];
    public List<HandleDecl> Handles { get; } = [];
    public List<FunctionDecl> Functions { get; } = [];
}
