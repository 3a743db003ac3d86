using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using OrleansBroker.Server.Identity;

namespace OrleansBroker.Http.Hosting;

/// <summary>
/// Makes the first administrator, <c>admin</c>, when the broker has never had a principal: with the configured password, or
/// a generated one written once to the log. There is no fixed default password.
/// </summary>
internal sealed partial class AdminBootstrap(IdentityDirectory identity, ILogger<AdminBootstrap> logger)
{
    /// <summary>The first administrator's name.</summary>
    public const string AdminName = "admin";

    public async Task RunAsync(string? configuredPassword, CancellationToken cancellationToken)
    {
        var password = configuredPassword ?? Generate();
        if (await identity.BootstrapAsync(AdminName, password, cancellationToken))
        {
            if (configuredPassword is null)
            {
                LogGenerated(logger, AdminName, password);
            }
            else
            {
                LogConfigured(logger, AdminName);
            }
        }
    }

    private static string Generate() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', '-').Replace('/', '_');

    [LoggerMessage(Level = LogLevel.Warning, Message = "First start: made the administrator '{Name}' with the generated password {Password} — it is shown this once; sign in and change it (or set Broker:Http:AdminPassword before the first start)")]
    private static partial void LogGenerated(ILogger logger, string name, string password);

    [LoggerMessage(Level = LogLevel.Information, Message = "First start: made the administrator '{Name}' with the password from Broker:Http:AdminPassword")]
    private static partial void LogConfigured(ILogger logger, string name);
}
