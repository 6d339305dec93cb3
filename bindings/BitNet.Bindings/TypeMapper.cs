// C types to blittable C# types: the mapping rules of the bindings, and each C# type's size and alignment for the
// struct layout check. No marshalling anywhere: strings are byte*, bools are byte, arrays are pointers.
using System.Collections.Generic;
using System.Linq;

namespace BitNet.Bindings;

/// <summary>A C type as the generated C# spells it. <paramref name="FunctionPointerTypedef"/> names the header's
/// typedef when a <c>delegate* unmanaged</c> stands for one (so the emitter can say which).</summary>
internal sealed record CsType(string Name, int Size, int Align, string? FunctionPointerTypedef = null)
{
    public bool IsVoid => Name == "void";
    public bool NeedsUnsafe => Name.Contains('*');
}

internal enum NamedKind { Enum, Struct, Opaque }

/// <summary>An enum or struct the header declares, under the C name users write (its typedef, else its tag).</summary>
internal sealed record NamedType(string CName, string CsName, NamedKind Kind, int Size = 0, int Align = 0);

internal sealed unsafe class TypeMapper
{
    private static readonly int PointerSize = sizeof(nint);

    // Typedefs whose width follows the pointer width: resolved by name, before canonicalisation turns them into
    // `unsigned long` (which would be wrong on 32-bit targets and on Windows).
    private static readonly Dictionary<string, CsType> PointerSized = new()
    {
        ["size_t"] = new("nuint", PointerSize, PointerSize),
        ["uintptr_t"] = new("nuint", PointerSize, PointerSize),
        ["ptrdiff_t"] = new("nint", PointerSize, PointerSize),
        ["intptr_t"] = new("nint", PointerSize, PointerSize),
        ["ssize_t"] = new("nint", PointerSize, PointerSize),
    };

    private static readonly Dictionary<CXTypeKind, CsType> Primitives = new()
    {
        [CXTypeKind.Void] = new("void", 0, 1),
        [CXTypeKind.Bool] = new("byte", 1, 1),      // C _Bool: one byte, 0 or 1; no bool marshalling
        [CXTypeKind.Char_S] = new("byte", 1, 1),    // plain char: a UTF-8 code unit
        [CXTypeKind.Char_U] = new("byte", 1, 1),
        [CXTypeKind.SChar] = new("sbyte", 1, 1),
        [CXTypeKind.UChar] = new("byte", 1, 1),
        [CXTypeKind.Short] = new("short", 2, 2),
        [CXTypeKind.UShort] = new("ushort", 2, 2),
        [CXTypeKind.Int] = new("int", 4, 4),
        [CXTypeKind.UInt] = new("uint", 4, 4),
        [CXTypeKind.Long] = new("long", 8, 8),      // reached only through a system typedef (int64_t on LP64)
        [CXTypeKind.ULong] = new("ulong", 8, 8),
        [CXTypeKind.LongLong] = new("long", 8, 8),
        [CXTypeKind.ULongLong] = new("ulong", 8, 8),
        [CXTypeKind.Float] = new("float", 4, 4),
        [CXTypeKind.Double] = new("double", 8, 8),
    };

    /// <summary>The element types C# allows in a fixed-size buffer.</summary>
    public static readonly HashSet<string> FixedBufferTypes =
        ["byte", "sbyte", "short", "ushort", "int", "uint", "long", "ulong", "float", "double"];

    private readonly Dictionary<string, NamedType> _named = new(); // by USR of the record or enum declaration

    public void Register(CXCursor declaration, NamedType type) => _named[Clang.Usr(declaration)] = type;

    public NamedType? Find(CXCursor declaration) => _named.GetValueOrDefault(Clang.Usr(declaration));

    public IEnumerable<NamedType> Named => _named.Values;

    /// <summary>The C# form of a C type. <paramref name="where"/> names the declaration for error messages.</summary>
    /// <param name="viaSystemTypedef">true once the type was reached through a typedef of a system header.</param>
    public CsType Map(CXType type, string where, bool viaSystemTypedef = false)
    {
        // Walk the sugar as written, so that typedef names (size_t, the header's function pointers) are seen.
        while (true)
        {
            if (type.Kind == CXTypeKind.Elaborated) type = Clang.clang_Type_getNamedType(type);
            else if (type.Kind == CXTypeKind.Attributed) type = Clang.clang_Type_getModifiedType(type);
            else if (type.Kind == CXTypeKind.Typedef)
            {
                var declaration = Clang.clang_getTypeDeclaration(type);
                var name = Clang.Spelling(declaration);
                if (PointerSized.TryGetValue(name, out var pointerSized)) return pointerSized;
                var underlying = Clang.clang_getTypedefDeclUnderlyingType(declaration);
                var target = Clang.clang_getCanonicalType(underlying);
                if (target.Kind == CXTypeKind.Pointer && IsFunction(Clang.clang_getCanonicalType(Clang.clang_getPointeeType(target))))
                    return FunctionPointer(Clang.clang_getPointeeType(underlying), where) with { FunctionPointerTypedef = name };
                viaSystemTypedef |= !Clang.IsFromMainFile(declaration);
                type = underlying;
            }
            else break;
        }

        if (type.Kind == CXTypeKind.Pointer) return Pointer(Clang.clang_getPointeeType(type), where);
        if (type.Kind is CXTypeKind.Long or CXTypeKind.ULong && !viaSystemTypedef)
            throw new UnsupportedDeclarationException(where,
                $"C type '{Clang.Spelling(type)}' is 32 bits on Windows and 64 elsewhere: use int32_t or int64_t");

        var canonical = Clang.clang_getCanonicalType(type);
        if (Primitives.TryGetValue(canonical.Kind, out var primitive)) return primitive;
        switch (canonical.Kind)
        {
            case CXTypeKind.Pointer:
                return Pointer(Clang.clang_getPointeeType(canonical), where);
            case CXTypeKind.Enum or CXTypeKind.Record:
                var named = Find(Clang.clang_getTypeDeclaration(canonical));
                if (named is null)
                    throw new UnsupportedDeclarationException(where,
                        $"C type '{Clang.Spelling(type)}' is not an enum or struct declared in the header itself");
                if (named.Kind == NamedKind.Opaque)
                    throw new UnsupportedDeclarationException(where, $"opaque struct '{named.CName}' used by value");
                return new CsType(named.CsName, named.Size, named.Align);
            default:
                throw new UnsupportedDeclarationException(where,
                    $"C type '{Clang.Spelling(type)}' has no blittable C# mapping");
        }
    }

    /// <summary>A pointer to <paramref name="pointee"/> (as written; const is dropped): a handle for an opaque
    /// struct, a delegate* for a function, otherwise a C# pointer to the mapped pointee.</summary>
    private CsType Pointer(CXType pointee, string where)
    {
        var target = Clang.clang_getCanonicalType(pointee);
        if (target.Kind == CXTypeKind.Record && Find(Clang.clang_getTypeDeclaration(target)) is { Kind: NamedKind.Opaque } handle)
            return new CsType(handle.CsName, PointerSize, PointerSize);
        if (IsFunction(target))
        {
            // A pointer to a typedef'd function type (typedef void bn_fn(int); bn_fn* f) keeps the typedef's name.
            var typedef = pointee.Kind == CXTypeKind.Typedef ? Clang.Spelling(Clang.clang_getTypeDeclaration(pointee)) : null;
            return FunctionPointer(pointee, where) with { FunctionPointerTypedef = typedef };
        }
        var inner = Map(pointee, where);
        return new CsType(inner.Name + "*", PointerSize, PointerSize, inner.FunctionPointerTypedef);
    }

    /// <summary><c>delegate* unmanaged[Cdecl]&lt;params..., ret&gt;</c> for a C function type.</summary>
    private CsType FunctionPointer(CXType function, string where)
    {
        if (function.Kind != CXTypeKind.FunctionProto) function = Clang.clang_getCanonicalType(function);
        if (function.Kind != CXTypeKind.FunctionProto)
            throw new UnsupportedDeclarationException(where, "function pointer without a prototype: write (void) for no parameters");
        if (Clang.clang_isFunctionTypeVariadic(function) != 0)
            throw new UnsupportedDeclarationException(where, "variadic function pointer");
        var types = Enumerable.Range(0, Clang.clang_getNumArgTypes(function))
            .Select(i => Map(Clang.clang_getArgType(function, (uint)i), where + " (function pointer)").Name)
            .Append(Map(Clang.clang_getResultType(function), where + " (function pointer)").Name);
        return new CsType($"delegate* unmanaged[Cdecl]<{string.Join(", ", types)}>", PointerSize, PointerSize);
    }

    private static bool IsFunction(CXType canonical) =>
        canonical.Kind is CXTypeKind.FunctionProto or CXTypeKind.FunctionNoProto;
}
