using Microsoft.Extensions.Configuration;
using OrleansBroker.Errors;

namespace OrleansBroker.Server.Hosting;

/// <summary>Settings read from configuration the same way by the silo and each of its listeners.</summary>
internal static class SettingSections
{
    /// <summary>Binds a setting section; a value of the wrong type is a one-line <see cref="BrokerErrorCode.InvalidOptions"/>, not a stack trace.</summary>
    public static void Bind(IConfigurationSection section, object target)
    {
        try
        {
            section.Bind(target);
        }
        catch (InvalidOperationException exception) when (exception.InnerException is not null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"{exception.Message} {exception.InnerException.Message}", exception);
        }
    }
}
