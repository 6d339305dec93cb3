// Evaluates the body of an object-like macro when it is an integer constant expression made of integer literals,
// other integer macros already evaluated, parentheses and the arithmetic and bitwise operators. Anything else
// (casts, strings, floats, attributes, sizeof, enum constants) is not a constant the bindings carry.
using System;
using System.Collections.Generic;
using System.Text.RegularExpressions;

namespace BitNet.Bindings;

internal static partial class MacroEvaluator
{
    // Decimal, hex, binary or octal, with any of C's integer suffixes.
    [GeneratedRegex("^(?:0[xX](?<hex>[0-9a-fA-F]+)|0[bB](?<bin>[01]+)|(?<oct>0[0-7]*)|(?<dec>[1-9][0-9]*))(?:[uU](?:ll|LL|[lL])?|(?:ll|LL|[lL])[uU]?)?$")]
    private static partial Regex IntegerLiteral();

    /// <summary>The value of <paramref name="body"/>, or null when it is not such an expression (or overflows 64 bits).</summary>
    public static Int128? Evaluate(IReadOnlyList<(CXTokenKind Kind, string Text)> body, IReadOnlyDictionary<string, Int128> known)
    {
        if (body.Count == 0) return null;
        var parser = new Parser(body, known);
        try
        {
            var value = parser.Binary(0);
            return parser.AtEnd && value >= long.MinValue && value <= ulong.MaxValue ? value : null;
        }
        catch (FormatException)
        {
            return null;
        }
        catch (DivideByZeroException)
        {
            return null;
        }
    }

    private sealed class Parser(IReadOnlyList<(CXTokenKind Kind, string Text)> tokens, IReadOnlyDictionary<string, Int128> known)
    {
        private int _at;

        public bool AtEnd => _at == tokens.Count;

        // Binary operators by C precedence, loosest first.
        private static readonly string[][] Levels =
            [["|"], ["^"], ["&"], ["<<", ">>"], ["+", "-"], ["*", "/", "%"]];

        public Int128 Binary(int level)
        {
            if (level == Levels.Length) return Unary();
            var left = Binary(level + 1);
            while (!AtEnd && tokens[_at].Kind == CXTokenKind.Punctuation && Array.IndexOf(Levels[level], tokens[_at].Text) >= 0)
            {
                var op = tokens[_at++].Text;
                var right = Binary(level + 1);
                left = op switch
                {
                    "|" => left | right,
                    "^" => left ^ right,
                    "&" => left & right,
                    "<<" => right >= 0 && right < 64 ? left << (int)right : throw new FormatException(),
                    ">>" => right >= 0 && right < 64 ? left >> (int)right : throw new FormatException(),
                    "+" => left + right,
                    "-" => left - right,
                    "*" => left * right,
                    "/" => left / right,
                    _ => left % right,
                };
                if (left < long.MinValue || left > ulong.MaxValue) throw new FormatException();
            }
            return left;
        }

        private Int128 Unary()
        {
            if (AtEnd) throw new FormatException();
            var (kind, text) = tokens[_at++];
            switch (kind)
            {
                case CXTokenKind.Punctuation when text == "(":
                    var inner = Binary(0);
                    if (AtEnd || tokens[_at++].Text != ")") throw new FormatException();
                    return inner;
                case CXTokenKind.Punctuation when text == "-": return -Unary();
                case CXTokenKind.Punctuation when text == "+": return Unary();
                case CXTokenKind.Punctuation when text == "~": return ~Unary();
                case CXTokenKind.Literal: return Literal(text);
                case CXTokenKind.Identifier when known.TryGetValue(text, out var value): return value;
                default: throw new FormatException();
            }
        }

        private static Int128 Literal(string text)
        {
            var m = IntegerLiteral().Match(text);
            if (!m.Success) throw new FormatException();
            if (m.Groups["hex"].Success) return Checked(m.Groups["hex"].Value, 16);
            if (m.Groups["bin"].Success) return Checked(m.Groups["bin"].Value, 2);
            if (m.Groups["oct"].Success) return Checked(m.Groups["oct"].Value, 8);
            return Checked(m.Groups["dec"].Value, 10);
        }

        private static Int128 Checked(string digits, int radix)
        {
            Int128 value = 0;
            foreach (var c in digits)
            {
                value = value * radix + Convert.ToInt32(c.ToString(), 16);
                if (value > ulong.MaxValue) throw new FormatException();
            }
            return value;
        }
    }
}
