using System.Security.Principal;
using OrleansBroker.Identity;

namespace OrleansBroker.Amqp.Protocol;

/// <summary>The broker principal a connection signed in as with SASL, as AMQP.Net Lite carries it on the connection.</summary>
internal sealed class AmqpPrincipal(PrincipalInfo info) : IPrincipal
{
    public PrincipalInfo Info { get; } = info;

    public IIdentity Identity { get; } = new GenericIdentity(info.Name, "SASL");

    public bool IsInRole(string role) => false;
}
