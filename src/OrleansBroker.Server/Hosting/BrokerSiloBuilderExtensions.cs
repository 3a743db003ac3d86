namespace OrleansBroker.Server.Hosting;

/// <summary>Silo-builder entry points of the broker.</summary>
public static class BrokerSiloBuilderExtensions
{
    /// <summary>Adds the broker to the silo; see <see cref="BrokerServiceCollectionExtensions.AddBroker"/>.</summary>
    public static ISiloBuilder AddBroker(this ISiloBuilder builder, Action<BrokerOptions>? configure = null)
    {
        builder.Services.AddBroker(configure);
        return builder;
    }
}
