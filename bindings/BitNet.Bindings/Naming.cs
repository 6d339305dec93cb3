// How C names become C# names. These rules are a contract with the hand-written managed library.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace BitNet.Bindings;

internal static class Naming
{
    /// <summary>A C type name to its C# name: drop the <c>bn_</c> prefix and a <c>_t</c> suffix, PascalCase the
    /// rest, prefix <c>Bn</c> (bn_pool_stats → BnPoolStats, bn_size_class_t → BnSizeClass).</summary>
    public static string TypeName(string cName)
    {
        var name = cName;
        if (name.StartsWith("bn_", StringComparison.OrdinalIgnoreCase)) name = name[3..];
        if (name.EndsWith("_t", StringComparison.Ordinal) && name.Length > 2) name = name[..^2];
        return "Bn" + Pascal(name);
    }

    /// <summary>A field name to a C# field name (bytes_in_use → BytesInUse).</summary>
    public static string FieldName(string cName) => Escape(Pascal(cName));

    /// <summary>The C# member names of one enum's constants: remove the longest common prefix that ends at an
    /// underscore, then PascalCase (BN_ERR_INVALID_ARGUMENT in bn_status → ErrInvalidArgument). If that would leave
    /// a name starting with a digit (BN_BITS_2, BN_BITS_4), the prefix is shortened by whole segments.</summary>
    public static List<string> EnumMemberNames(IReadOnlyList<string> constants)
    {
        var prefix = constants.Count == 0 ? "" : constants.Aggregate(CommonPrefix);
        prefix = prefix[..(prefix.LastIndexOf('_') + 1)];
        while (prefix.Length > 0 && constants.Any(c => c.Length == prefix.Length || char.IsAsciiDigit(c[prefix.Length])))
            prefix = prefix.Length < 2 ? "" : prefix[..(prefix.LastIndexOf('_', prefix.Length - 2) + 1)];
        return constants.Select(c => Escape(Pascal(c[prefix.Length..]))).ToList();
    }

    /// <summary>A C identifier used as-is in C# (function and parameter names), with @ before C# keywords.</summary>
    public static string Escape(string name) => Keywords.Contains(name) ? "@" + name : name;

    /// <summary>snake_case or SCREAMING_CASE to PascalCase: each underscore-separated part gets an upper-case first
    /// letter and lower-case rest (AVX512VNNI → Avx512vnni, in_use → InUse, TQ2_0 → Tq2_0).</summary>
    public static string Pascal(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (var part in name.Split('_', StringSplitOptions.RemoveEmptyEntries))
        {
            // Q4_0 stays Q4_0, not Q40: an underscore between two digits carries meaning.
            if (sb.Length > 0 && char.IsAsciiDigit(sb[^1]) && char.IsAsciiDigit(part[0])) sb.Append('_');
            sb.Append(char.ToUpperInvariant(part[0])).Append(part[1..].ToLowerInvariant());
        }
        return sb.Length > 0 ? sb.ToString() : "_";
    }

    private static string CommonPrefix(string a, string b)
    {
        var n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        return a[..n];
    }

    private static readonly HashSet<string> Keywords =
    [
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const",
        "continue", "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern",
        "false", "finally", "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface",
        "internal", "is", "lock", "long", "namespace", "new", "null", "object", "operator", "out", "override",
        "params", "private", "protected", "public", "readonly", "ref", "return", "sbyte", "sealed", "short",
        "sizeof", "stackalloc", "static", "string", "struct", "switch", "this", "throw", "true", "try", "typeof",
        "uint", "ulong", "unchecked", "unsafe", "ushort", "using", "virtual", "void", "volatile", "while",
    ];
}
