using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace OrleansBroker.Server.Identity;

/// <summary>
/// How the broker keeps secrets: a password as PBKDF2-HMAC-SHA256 with a 16-byte random salt and
/// <see cref="PasswordIterations"/> iterations (OWASP's figure), an API key's secret (32 random bytes) as its SHA-256, which
/// is enough for a secret nobody chose. Stored as <c>pbkdf2-sha256$iterations$salt$hash</c> or <c>sha256$hash</c> (base64),
/// so the iteration count can rise later without breaking what is stored. Comparisons take constant time.
/// </summary>
internal static class SecretHasher
{
    /// <summary>PBKDF2 iterations of a new password hash: 600,000.</summary>
    public const int PasswordIterations = 600_000;

    private const string Pbkdf2 = "pbkdf2-sha256";
    private const string Sha256 = "sha256";

    public static string HashPassword(string password, int iterations = PasswordIterations)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, 32);
        return string.Join('$', Pbkdf2, iterations.ToString(CultureInfo.InvariantCulture), Convert.ToBase64String(salt), Convert.ToBase64String(hash));
    }

    public static string HashKeySecret(string secret) => string.Join('$', Sha256, Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(secret))));

    /// <summary>Whether <paramref name="stored"/> has the form of a stored hash (one imported from another broker's definitions).</summary>
    public static bool IsStoredForm(string? stored)
    {
        var parts = stored?.Split('$') ?? [];
        return parts switch
        {
            [Pbkdf2, var iterations, var salt, var hash] => int.TryParse(iterations, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count >= 100_000
                && IsBase64(salt) && IsBase64(hash),
            [Sha256, var digest] => IsBase64(digest) && digest.Length == 44,
            _ => false,
        };

        static bool IsBase64(string text) => text.Length > 0 && Convert.TryFromBase64String(text, new byte[text.Length], out _);
    }

    /// <summary>Whether <paramref name="secret"/> is the one <paramref name="stored"/> was made from; false for anything malformed.</summary>
    public static bool Verify(string secret, string stored)
    {
        var parts = stored.Split('$');
        try
        {
            if (parts is [Pbkdf2, var iterations, var salt, var hash])
            {
                var expected = Convert.FromBase64String(hash);
                var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(secret), Convert.FromBase64String(salt),
                    int.Parse(iterations, NumberStyles.None, CultureInfo.InvariantCulture), HashAlgorithmName.SHA256, expected.Length);
                return CryptographicOperations.FixedTimeEquals(actual, expected);
            }

            if (parts is [Sha256, var digest])
            {
                return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(secret)), Convert.FromBase64String(digest));
            }
        }
        catch (FormatException)
        {
            // A stored value this version cannot read matches nothing.
        }

        return false;
    }
}
