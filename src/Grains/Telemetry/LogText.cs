using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace NoEtl.Grains.Telemetry;

/// <summary>
/// A client-supplied value (a playbook path, a worker id) in a text log message. Line breaks and other control
/// characters are escaped, so a value cannot end the log line and write one of its own (a forged entry).
/// </summary>
public static class LogText
{
    [return: NotNullIfNotNull(nameof(value))]
    public static string? Escape(string? value)
    {
        if (value is null || !value.Any(NeedsEscape))
            return value;
        var escaped = new StringBuilder(value.Length + 16);
        foreach (var c in value)
        {
            if (c == '\n')
                escaped.Append("\\n");
            else if (c == '\r')
                escaped.Append("\\r");
            else if (c == '\t')
                escaped.Append("\\t");
            else if (NeedsEscape(c))
                escaped.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            else
                escaped.Append(c);
        }
        return escaped.ToString();
    }

    // C0 and C1 controls (U+0085 is a line break to some readers) and the Unicode line and paragraph separators.
    private static bool NeedsEscape(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';
}
