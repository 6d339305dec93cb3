// The part of libclang's C API (clang-c/Index.h, LLVM 14) that the generator uses, called directly: ClangSharp is
// not available here. Layouts must match Index.h exactly or the native stack is silently corrupted.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace BitNet.Bindings;

/// <summary>CXCursor: <c>{ int kind; int xdata; const void* data[3]; }</c>, 32 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct CXCursor
{
    public readonly CXCursorKind Kind;
    public readonly int XData;
    public readonly nint Data0, Data1, Data2;
}

/// <summary>CXType: <c>{ int kind; void* data[2]; }</c>, 24 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct CXType
{
    public readonly CXTypeKind Kind;
    public readonly nint Data0, Data1;
}

/// <summary>CXString: <c>{ const void* data; unsigned private_flags; }</c>. Copy with <see cref="Clang.Take"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct CXString
{
    public readonly nint Data;
    public readonly uint Flags;
}

/// <summary>CXSourceLocation: <c>{ const void* ptr_data[2]; unsigned int_data; }</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct CXSourceLocation
{
    public readonly nint Ptr0, Ptr1;
    public readonly uint IntData;
}

/// <summary>CXSourceRange: <c>{ const void* ptr_data[2]; unsigned begin_int_data, end_int_data; }</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct CXSourceRange
{
    public readonly nint Ptr0, Ptr1;
    public readonly uint Begin, End;
}

/// <summary>CXToken: <c>{ unsigned int_data[4]; void* ptr_data; }</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct CXToken
{
    public readonly uint Int0, Int1, Int2, Int3;
    public readonly nint Ptr;
}

/// <summary>The CXCursorKind values the generator looks at.</summary>
internal enum CXCursorKind
{
    StructDecl = 2,
    UnionDecl = 3,
    EnumDecl = 5,
    FieldDecl = 6,
    EnumConstantDecl = 7,
    FunctionDecl = 8,
    VarDecl = 9,
    ParmDecl = 10,
    TypedefDecl = 20,
    MacroDefinition = 501,
}

/// <summary>CXTypeKind (the values are Index.h's).</summary>
internal enum CXTypeKind
{
    Invalid = 0, Unexposed = 1, Void = 2, Bool = 3, Char_U = 4, UChar = 5, Char16 = 6, Char32 = 7, UShort = 8,
    UInt = 9, ULong = 10, ULongLong = 11, UInt128 = 12, Char_S = 13, SChar = 14, WChar = 15, Short = 16, Int = 17,
    Long = 18, LongLong = 19, Int128 = 20, Float = 21, Double = 22, LongDouble = 23,
    Pointer = 101, Record = 105, Enum = 106, Typedef = 107, FunctionNoProto = 110, FunctionProto = 111,
    ConstantArray = 112, Vector = 113, IncompleteArray = 114, VariableArray = 115, Elaborated = 119,
    Attributed = 163, Atomic = 177,
}

/// <summary>CXTokenKind.</summary>
internal enum CXTokenKind { Punctuation = 0, Keyword = 1, Identifier = 2, Literal = 3, Comment = 4 }

/// <summary>libclang entry points, plus the few managed wrappers that turn CXStrings and visitors into C# values.</summary>
internal static unsafe partial class Clang
{
    /// <summary>Debian's libclang1-14 installs this soname on the default loader path.</summary>
    public const string Library = "libclang-14.so.1";

    // A wrong layout corrupts the native stack silently: refuse to run instead.
    static Clang()
    {
        var p = sizeof(nint);
        if (sizeof(CXCursor) != 8 + 3 * p || sizeof(CXType) != 3 * p || sizeof(CXString) != 2 * p ||
            sizeof(CXSourceLocation) != 3 * p || sizeof(CXSourceRange) != 2 * p + 8 || sizeof(CXToken) != 16 + p)
            throw new PlatformNotSupportedException("libclang struct layouts do not match clang-c/Index.h on this platform");
    }

    public const uint DetailedPreprocessingRecord = 0x01;
    public const int SeverityError = 3;
    public const int StorageClassStatic = 3;

    [LibraryImport(Library)] public static partial nint clang_createIndex(int excludeDeclarationsFromPch, int displayDiagnostics);
    [LibraryImport(Library)] public static partial void clang_disposeIndex(nint index);
    [LibraryImport(Library)]
    public static partial int clang_parseTranslationUnit2(nint index, byte* sourceFilename, byte** commandLineArgs,
        int numCommandLineArgs, nint unsavedFiles, uint numUnsavedFiles, uint options, nint* outTranslationUnit);
    [LibraryImport(Library)] public static partial void clang_disposeTranslationUnit(nint tu);

    [LibraryImport(Library)] public static partial uint clang_getNumDiagnostics(nint tu);
    [LibraryImport(Library)] public static partial nint clang_getDiagnostic(nint tu, uint index);
    [LibraryImport(Library)] public static partial int clang_getDiagnosticSeverity(nint diagnostic);
    [LibraryImport(Library)] public static partial CXString clang_formatDiagnostic(nint diagnostic, uint options);
    [LibraryImport(Library)] public static partial uint clang_defaultDiagnosticDisplayOptions();
    [LibraryImport(Library)] public static partial void clang_disposeDiagnostic(nint diagnostic);

    [LibraryImport(Library)] public static partial CXCursor clang_getTranslationUnitCursor(nint tu);
    [LibraryImport(Library)]
    public static partial uint clang_visitChildren(CXCursor parent,
        delegate* unmanaged<CXCursor, CXCursor, nint, int> visitor, nint clientData);
    [LibraryImport(Library)] public static partial CXString clang_getCursorSpelling(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXString clang_getCursorUSR(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXSourceLocation clang_getCursorLocation(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXSourceRange clang_getCursorExtent(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Location_isFromMainFile(CXSourceLocation location);
    [LibraryImport(Library)]
    public static partial void clang_getSpellingLocation(CXSourceLocation location, nint* file, uint* line,
        uint* column, uint* offset);
    [LibraryImport(Library)] public static partial uint clang_isCursorDefinition(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXCursor clang_getCursorDefinition(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Cursor_isNull(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_Cursor_isBitField(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_Cursor_isAnonymous(CXCursor cursor);
    [LibraryImport(Library)] public static partial uint clang_Cursor_isMacroFunctionLike(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Cursor_getStorageClass(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXString clang_Cursor_getRawCommentText(CXCursor cursor);
    [LibraryImport(Library)] public static partial int clang_Cursor_getNumArguments(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXCursor clang_Cursor_getArgument(CXCursor cursor, uint index);
    [LibraryImport(Library)] public static partial long clang_Cursor_getOffsetOfField(CXCursor cursor);
    [LibraryImport(Library)] public static partial long clang_getEnumConstantDeclValue(CXCursor cursor);
    [LibraryImport(Library)] public static partial ulong clang_getEnumConstantDeclUnsignedValue(CXCursor cursor);

    [LibraryImport(Library)] public static partial CXType clang_getCursorType(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXType clang_getTypedefDeclUnderlyingType(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXType clang_getEnumDeclIntegerType(CXCursor cursor);
    [LibraryImport(Library)] public static partial CXType clang_getCanonicalType(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getPointeeType(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_Type_getNamedType(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_Type_getModifiedType(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getResultType(CXType type);
    [LibraryImport(Library)] public static partial int clang_getNumArgTypes(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getArgType(CXType type, uint index);
    [LibraryImport(Library)] public static partial uint clang_isFunctionTypeVariadic(CXType type);
    [LibraryImport(Library)] public static partial CXType clang_getArrayElementType(CXType type);
    [LibraryImport(Library)] public static partial long clang_getArraySize(CXType type);
    [LibraryImport(Library)] public static partial CXCursor clang_getTypeDeclaration(CXType type);
    [LibraryImport(Library)] public static partial CXString clang_getTypeSpelling(CXType type);
    [LibraryImport(Library)] public static partial long clang_Type_getSizeOf(CXType type);
    [LibraryImport(Library)] public static partial long clang_Type_getAlignOf(CXType type);

    [LibraryImport(Library)]
    public static partial void clang_tokenize(nint tu, CXSourceRange range, CXToken** tokens, uint* numTokens);
    [LibraryImport(Library)] public static partial CXTokenKind clang_getTokenKind(CXToken token);
    [LibraryImport(Library)] public static partial CXString clang_getTokenSpelling(nint tu, CXToken token);
    [LibraryImport(Library)] public static partial void clang_disposeTokens(nint tu, CXToken* tokens, uint numTokens);

    [LibraryImport(Library)] private static partial byte* clang_getCString(CXString text);
    [LibraryImport(Library)] private static partial void clang_disposeString(CXString text);

    /// <summary>Copies a CXString into a C# string and disposes it (each CXString exactly once).</summary>
    public static string Take(CXString text)
    {
        try { return Marshal.PtrToStringUTF8((nint)clang_getCString(text)) ?? ""; }
        finally { clang_disposeString(text); }
    }

    public static string Spelling(CXCursor cursor) => Take(clang_getCursorSpelling(cursor));
    public static string Spelling(CXType type) => Take(clang_getTypeSpelling(type));
    public static string Usr(CXCursor cursor) => Take(clang_getCursorUSR(cursor));
    public static bool IsFromMainFile(CXCursor cursor) => clang_Location_isFromMainFile(clang_getCursorLocation(cursor)) != 0;

    /// <summary>The 1-based line of a cursor in its file.</summary>
    public static int Line(CXCursor cursor)
    {
        uint line, column, offset;
        clang_getSpellingLocation(clang_getCursorLocation(cursor), null, &line, &column, &offset);
        return (int)line;
    }

    /// <summary>The byte offset of a cursor in its file.</summary>
    public static long Offset(CXCursor cursor)
    {
        uint line, column, offset;
        clang_getSpellingLocation(clang_getCursorLocation(cursor), null, &line, &column, &offset);
        return offset;
    }

    /// <summary>The direct children of a cursor, in source order.</summary>
    public static List<CXCursor> Children(CXCursor parent)
    {
        var children = new List<CXCursor>();
        var handle = GCHandle.Alloc(children);
        try { clang_visitChildren(parent, &CollectChild, GCHandle.ToIntPtr(handle)); }
        finally { handle.Free(); }
        return children;
    }

    // CXChildVisit_Continue = 1; CXChildVisit_Break = 0. No exception may escape into native code.
    [UnmanagedCallersOnly]
    private static int CollectChild(CXCursor cursor, CXCursor parent, nint clientData)
    {
        try
        {
            ((List<CXCursor>)GCHandle.FromIntPtr(clientData).Target!).Add(cursor);
            return 1;
        }
        catch
        {
            return 0;
        }
    }
}
