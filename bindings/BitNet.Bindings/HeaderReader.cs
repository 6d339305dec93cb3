// Walks the header's translation unit (main file only) and builds the HeaderModel: every macro, enum, struct,
// opaque struct and function, in header order, already mapped to C#.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace BitNet.Bindings;

internal sealed class HeaderReader(TranslationUnit tu, Action<string> note)
{
    private readonly TypeMapper _types = new();
    private readonly Dictionary<string, IReadOnlyList<string>> _typeDocs = new();      // by USR
    private readonly Dictionary<string, string> _functionPointers = new();             // typedef name → description
    private readonly Dictionary<string, Int128> _macroValues = new();

    public HeaderModel Read(string displayPath)
    {
        var model = new HeaderModel { DisplayPath = displayPath };
        // libclang lists macro definitions before declarations: sort everything back into header order.
        var top = Clang.Children(tu.Cursor).Where(Clang.IsFromMainFile).OrderBy(Clang.Offset).ToList();
        IndexTypes(top, model);
        var functions = new HashSet<string>();
        foreach (var cursor in top)
        {
            switch (cursor.Kind)
            {
                case CXCursorKind.MacroDefinition:
                    ReadMacro(cursor, model);
                    break;
                case CXCursorKind.EnumDecl when Clang.clang_isCursorDefinition(cursor) != 0:
                    if (_types.Find(cursor) is null) ReadAnonymousEnum(cursor, model);
                    else model.Enums.Add(ReadEnum(cursor));
                    break;
                case CXCursorKind.StructDecl or CXCursorKind.UnionDecl when Clang.clang_isCursorDefinition(cursor) != 0:
                    model.Structs.Add(ReadStruct(cursor));
                    break;
                case CXCursorKind.FunctionDecl when functions.Add(Clang.Spelling(cursor)):
                    if (ReadFunction(cursor) is { } function) model.Functions.Add(function);
                    break;
                case CXCursorKind.VarDecl:
                    note($"variable {Clang.Spelling(cursor)} skipped: [LibraryImport] binds functions, not data");
                    break;
            }
        }
        return model;
    }

    /// <summary>Names every enum and struct first (a pointer may name a struct declared further down), and
    /// collects the opaque ones (declared, never defined) as handles.</summary>
    private void IndexTypes(List<CXCursor> top, HeaderModel model)
    {
        var records = new List<(string Usr, CXCursor Cursor)>();   // first appearance order
        var tags = new Dictionary<string, string>();
        var typedefNames = new Dictionary<string, string>();
        void See(CXCursor declaration, CXCursor at)
        {
            var usr = Clang.Usr(declaration);
            if (tags.ContainsKey(usr)) return;
            tags[usr] = Clang.clang_Cursor_isAnonymous(declaration) != 0 ? "" : Clang.Spelling(declaration);
            records.Add((usr, declaration));
            _typeDocs[usr] = Doc(at);
        }

        foreach (var cursor in top)
        {
            if (cursor.Kind is CXCursorKind.StructDecl or CXCursorKind.UnionDecl or CXCursorKind.EnumDecl)
                See(cursor, cursor);
            if (cursor.Kind != CXCursorKind.TypedefDecl) continue;

            var name = Clang.Spelling(cursor);
            var underlying = Clang.clang_getTypedefDeclUnderlyingType(cursor);
            var canonical = Clang.clang_getCanonicalType(underlying);
            if (canonical.Kind is CXTypeKind.Record or CXTypeKind.Enum)
            {
                var declaration = Clang.clang_getTypeDeclaration(canonical);
                if (!Clang.IsFromMainFile(declaration)) continue;
                See(declaration, cursor);
                var usr = Clang.Usr(declaration);
                typedefNames.TryAdd(usr, name);
                if (_typeDocs[usr].Count == 0) _typeDocs[usr] = Doc(cursor);
            }
            else if (canonical.Kind == CXTypeKind.Pointer &&
                     Clang.clang_getCanonicalType(Clang.clang_getPointeeType(canonical)).Kind == CXTypeKind.FunctionProto)
            {
                var doc = string.Join(" ", Doc(cursor));
                _functionPointers[name] = $"C function pointer {name}, {Clang.Spelling(underlying)}" + (doc.Length > 0 ? ": " + doc : "");
            }
        }

        foreach (var (usr, cursor) in records)
        {
            var cName = typedefNames.GetValueOrDefault(usr) ?? tags[usr];
            if (cName.Length == 0 && cursor.Kind == CXCursorKind.EnumDecl) continue; // enum { BN_X = 4 }: constants
            if (cName.Length == 0)
                throw new UnsupportedDeclarationException($"the struct or enum at line {Clang.Line(cursor)}",
                    "anonymous, and no typedef names it");
            var definition = Clang.clang_getCursorDefinition(cursor);
            var kind = cursor.Kind == CXCursorKind.EnumDecl ? NamedKind.Enum
                : Clang.clang_Cursor_isNull(definition) != 0 ? NamedKind.Opaque : NamedKind.Struct;
            var named = new NamedType(cName, Naming.TypeName(cName), kind);
            var clash = _types.Named.FirstOrDefault(n => n.CsName == named.CsName);
            if (clash is not null)
                throw new UnsupportedDeclarationException(cName, $"its C# name {named.CsName} is also {clash.CName}'s");
            _types.Register(cursor, named);
            if (kind == NamedKind.Opaque) model.Handles.Add(new HandleDecl(cName, named.CsName, _typeDocs[usr]));
        }
    }

    private void ReadMacro(CXCursor cursor, HeaderModel model)
    {
        var name = Clang.Spelling(cursor);
        if (Clang.clang_Cursor_isMacroFunctionLike(cursor) != 0) return;
        var tokens = tu.Tokens(cursor);
        var body = tokens.Skip(1).ToList();
        if (body.Count == 0) return; // include guards and switches such as BN_BUILDING_LIBRARY

        if (MacroEvaluator.Evaluate(body, _macroValues) is not { } value)
        {
            note($"macro {name} skipped: '{string.Join(" ", body.Select(t => t.Text))}' is not an integer constant expression");
            return;
        }
        _macroValues[name] = value;
        var text = MacroBodyText(cursor, name) ?? string.Join(" ", body.Select(t => t.Text));
        var expression = text == value.ToString(CultureInfo.InvariantCulture) ? null : text;
        model.Constants.RemoveAll(c => c.Name == name); // #undef and #define again: the last one counts
        model.Constants.Add(new ConstantDecl(name, ConstantType(value), value.ToString(CultureInfo.InvariantCulture), expression,
            DocComment.FromSource(tu.Lines, Clang.Line(cursor))));
    }

    /// <summary>A one-line macro's body as written in the header (comments removed); null for a continued line.</summary>
    private string? MacroBodyText(CXCursor cursor, string name)
    {
        var line = tu.Lines[Clang.Line(cursor) - 1];
        var at = line.IndexOf(name, StringComparison.Ordinal);
        if (at < 0) return null;
        var body = line[(at + name.Length)..];
        foreach (var marker in new[] { "/*", "//" })
            if (body.IndexOf(marker, StringComparison.Ordinal) is var c and >= 0) body = body[..c];
        body = body.Trim();
        return body.Length == 0 || body.EndsWith('\\') ? null : body;
    }

    /// <summary>An enum with neither tag nor typedef is C's idiom for integer constants: its members join the
    /// macros in NativeConstants, under their C names.</summary>
    private void ReadAnonymousEnum(CXCursor cursor, HeaderModel model)
    {
        var (constants, values, _, _) = EnumConstants(cursor);
        for (var i = 0; i < constants.Count; i++)
        {
            var name = Clang.Spelling(constants[i]);
            _macroValues[name] = values[i];
            model.Constants.Add(new ConstantDecl(name, ConstantType(values[i]),
                values[i].ToString(CultureInfo.InvariantCulture), null, Doc(constants[i])));
        }
    }

    /// <summary>An enum's constants and their values, read with the signedness of its integer type.</summary>
    private static (List<CXCursor> Constants, List<Int128> Values, int Size, bool IsUnsigned) EnumConstants(CXCursor cursor)
    {
        var integer = Clang.clang_getCanonicalType(Clang.clang_getEnumDeclIntegerType(cursor));
        var isUnsigned = integer.Kind is CXTypeKind.UChar or CXTypeKind.UShort or CXTypeKind.UInt or CXTypeKind.ULong
            or CXTypeKind.ULongLong or CXTypeKind.Char_U or CXTypeKind.Bool;
        var constants = Clang.Children(cursor).Where(c => c.Kind == CXCursorKind.EnumConstantDecl).ToList();
        var values = constants.Select(c => isUnsigned
            ? (Int128)Clang.clang_getEnumConstantDeclUnsignedValue(c)
            : (Int128)Clang.clang_getEnumConstantDeclValue(c)).ToList();
        return (constants, values, (int)Clang.clang_Type_getSizeOf(integer), isUnsigned);
    }

    private static string ConstantType(Int128 value) =>
        value >= int.MinValue && value <= int.MaxValue ? "int" : value >= long.MinValue && value <= long.MaxValue ? "long" : "ulong";

    private EnumDecl ReadEnum(CXCursor cursor)
    {
        var named = _types.Find(cursor)!;
        var (constants, values, size, isUnsigned) = EnumConstants(cursor);

        // C gives a 4- or 8-byte enum without a fixed type `unsigned` when no value is negative (clang does), yet
        // its constants are ints: keep such enums signed unless a value does not fit. Enums with an explicit
        // narrow type (C23 `enum e : uint8_t`) keep exactly that type.
        var (signedName, unsignedName, min, max) = size switch
        {
            1 => ("sbyte", "byte", (Int128)sbyte.MinValue, (Int128)sbyte.MaxValue),
            2 => ("short", "ushort", short.MinValue, short.MaxValue),
            4 => ("int", "uint", int.MinValue, int.MaxValue),
            8 => ("long", "ulong", long.MinValue, (Int128)long.MaxValue),
            _ => throw new UnsupportedDeclarationException(named.CName, $"enum of {size} bytes"),
        };
        var fitsSigned = values.All(v => v >= min && v <= max);
        var underlying = size >= 4 ? (fitsSigned ? signedName : unsignedName) : (isUnsigned ? unsignedName : signedName);
        _types.Register(cursor, named with { Size = size, Align = size });

        var isFlags = values.Count >= 3 && values.All(v => v > 0 && (v & (v - 1)) == 0);
        var names = Naming.EnumMemberNames(constants.Select(Clang.Spelling).ToList());
        if (names.Distinct().Count() != names.Count)
            throw new UnsupportedDeclarationException(named.CName, "two constants map to the same C# member name");
        var members = constants.Select((c, i) =>
            new EnumMemberDecl(names[i], values[i].ToString(CultureInfo.InvariantCulture), Doc(c))).ToList();
        return new EnumDecl(named.CName, named.CsName, underlying, isFlags, members, _typeDocs[Clang.Usr(cursor)]);
    }

    private StructDecl ReadStruct(CXCursor cursor)
    {
        var named = _types.Find(cursor)!;
        if (cursor.Kind == CXCursorKind.UnionDecl)
            throw new UnsupportedDeclarationException(named.CName, "unions have no sequential C# layout");

        var fields = new List<FieldDecl>();
        var layout = new List<(string Name, long COffset, int Size, int Align)>();
        foreach (var child in Clang.Children(cursor))
        {
            if (child.Kind is CXCursorKind.StructDecl or CXCursorKind.UnionDecl or CXCursorKind.EnumDecl)
                throw new UnsupportedDeclarationException(named.CName, "nested struct, union or enum declaration: declare it at file scope");
            if (child.Kind != CXCursorKind.FieldDecl) continue;

            var cField = Clang.Spelling(child);
            var where = $"{named.CName}.{cField}";
            if (Clang.clang_Cursor_isBitField(child) != 0)
                throw new UnsupportedDeclarationException(where, "bit-fields have no C# layout");
            var (type, fixedLength) = FieldType(Clang.clang_getCursorType(child), where);
            var doc = Doc(child);
            if (type.FunctionPointerTypedef is { } typedef) doc = [.. doc, _functionPointers.GetValueOrDefault(typedef, typedef)];
            fields.Add(new FieldDecl(Naming.FieldName(cField), type.Name, fixedLength, doc));
            layout.Add((cField, Clang.clang_Cursor_getOffsetOfField(child) / 8, type.Size * (int)(fixedLength ?? 1), type.Align));
        }

        var cType = Clang.clang_getCursorType(cursor);
        var (size, align) = CheckLayout(named.CName, layout, Clang.clang_Type_getSizeOf(cType), Clang.clang_Type_getAlignOf(cType));
        _types.Register(cursor, named with { Size = size, Align = align });
        var isUnsafe = fields.Any(f => f.FixedLength is not null || f.CsType.Contains('*'));
        return new StructDecl(named.CName, named.CsName, size, isUnsafe, fields, _typeDocs[Clang.Usr(cursor)]);
    }

    /// <summary>A field's C# type; C arrays of primitives (any number of dimensions) become one fixed buffer.</summary>
    private (CsType Type, long? FixedLength) FieldType(CXType type, string where)
    {
        var canonical = Clang.clang_getCanonicalType(type);
        if (canonical.Kind is CXTypeKind.IncompleteArray or CXTypeKind.VariableArray)
            throw new UnsupportedDeclarationException(where, "flexible array member");
        if (canonical.Kind != CXTypeKind.ConstantArray)
        {
            var mapped = _types.Map(type, where);
            return mapped.IsVoid ? throw new UnsupportedDeclarationException(where, "void field") : (mapped, null);
        }

        while (type.Kind == CXTypeKind.Elaborated) type = Clang.clang_Type_getNamedType(type);
        var viaTypedef = type.Kind != CXTypeKind.ConstantArray; // an array typedef: only the canonical type is left
        if (viaTypedef) type = canonical;
        long count = 1;
        while (type.Kind == CXTypeKind.ConstantArray)
        {
            count *= Clang.clang_getArraySize(type);
            type = Clang.clang_getArrayElementType(type);
        }
        var element = _types.Map(type, where, viaTypedef);
        if (!TypeMapper.FixedBufferTypes.Contains(element.Name))
            throw new UnsupportedDeclarationException(where, $"array of {element.Name}: only arrays of primitive types map to C# fixed buffers");
        return (element, count);
    }

    /// <summary>Lays the fields out as C# LayoutKind.Sequential does and requires every offset, the size and the
    /// alignment to equal what clang computed for C (packing, _Alignas or an unmapped type would break them).</summary>
    private static (int Size, int Align) CheckLayout(string where, List<(string Name, long COffset, int Size, int Align)> fields,
        long cSize, long cAlign)
    {
        if (fields.Count == 0) throw new UnsupportedDeclarationException(where, "struct without fields");
        int offset = 0, align = 1;
        foreach (var f in fields)
        {
            offset = (offset + f.Align - 1) / f.Align * f.Align;
            if (offset != f.COffset)
                throw new UnsupportedDeclarationException($"{where}.{f.Name}",
                    $"at offset {f.COffset} in C but {offset} in the C# sequential layout (packing or alignment attributes?)");
            offset += f.Size;
            align = Math.Max(align, f.Align);
        }
        var size = (offset + align - 1) / align * align;
        if (size != cSize || align != cAlign)
            throw new UnsupportedDeclarationException(where,
                $"sizeof {cSize} and alignment {cAlign} in C but {size} and {align} in the C# sequential layout");
        return (size, align);
    }

    private FunctionDecl? ReadFunction(CXCursor cursor)
    {
        var name = Clang.Spelling(cursor);
        if (Clang.clang_Cursor_getStorageClass(cursor) == Clang.StorageClassStatic)
        {
            note($"function {name} skipped: static functions are not exported");
            return null;
        }
        var type = Clang.clang_getCursorType(cursor);
        if (type.Kind == CXTypeKind.FunctionNoProto)
            throw new UnsupportedDeclarationException(name, "declared without a prototype: write (void) for no parameters");
        if (Clang.clang_isFunctionTypeVariadic(type) != 0)
            throw new UnsupportedDeclarationException(name, "variadic functions cannot be bound");

        var remarks = new List<string>();
        var result = _types.Map(Clang.clang_getResultType(type), $"{name} return type");
        if (result.FunctionPointerTypedef is { } returned) remarks.Add($"Returns a {_functionPointers.GetValueOrDefault(returned, returned)}");
        var parameters = new List<ParameterDecl>();
        for (var i = 0; i < Clang.clang_Cursor_getNumArguments(cursor); i++)
        {
            var argument = Clang.clang_Cursor_getArgument(cursor, (uint)i);
            var cName = Clang.Spelling(argument);
            if (cName.Length == 0) cName = $"arg{i}";
            var mapped = _types.Map(Clang.clang_getCursorType(argument), $"{name} parameter '{cName}'");
            if (mapped.IsVoid) throw new UnsupportedDeclarationException(name, $"parameter '{cName}' of type void");
            if (mapped.FunctionPointerTypedef is { } typedef)
                remarks.Add($"{cName}: {_functionPointers.GetValueOrDefault(typedef, typedef)}");
            parameters.Add(new ParameterDecl(Naming.Escape(cName), mapped.Name));
        }
        return new FunctionDecl(name, result.Name, parameters, Doc(cursor), remarks);
    }

    private static IReadOnlyList<string> Doc(CXCursor cursor) =>
        DocComment.Clean(Clang.Take(Clang.clang_Cursor_getRawCommentText(cursor)));
}
