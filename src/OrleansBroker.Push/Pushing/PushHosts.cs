using System.Net;
using System.Net.Sockets;
using OrleansBroker.Errors;

namespace OrleansBroker.Push.Pushing;

/// <summary>
/// Which hosts push endpoints may have (<c>Broker:Push:AllowedHosts</c>): with no list, any host whose addresses are all
/// public; with a list, only the hosts on it. Checked when a queue is created (<see cref="Check"/>) and when each connection is
/// made (<see cref="ConnectAsync"/>), so that a name resolving to an internal address later is still refused.
/// </summary>
internal sealed class PushHosts(IReadOnlyList<string> allowed)
{
    /// <summary>Throws <c>InvalidOptions</c> unless <paramref name="url"/>'s host may be pushed to.</summary>
    public void Check(Uri url)
    {
        var host = url.IdnHost;
        if (Listed(host))
        {
            return;
        }

        if (allowed.Count > 0)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Push host '{host}' is not in this silo's Broker:Push:AllowedHosts ({string.Join(", ", allowed)}).");
        }

        if ((IPAddress.TryParse(host, out var address) && IsInternal(address)) || host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Push host '{host}' is a loopback or private address: refused unless listed in Broker:Push:AllowedHosts (for example --Broker:Push:AllowedHosts:0 {host}).");
        }
    }

    /// <summary>
    /// Connects to an endpoint: a listed host to any of its addresses, any other only to public ones (the check is made on the
    /// addresses actually connected to, after name resolution).
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(DnsEndPoint endpoint, CancellationToken cancellationToken)
    {
        var addresses = IPAddress.TryParse(endpoint.Host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(endpoint.Host, cancellationToken);
        if (!Listed(endpoint.Host))
        {
            if (allowed.Count > 0)
            {
                throw new HttpRequestException($"host {endpoint.Host} is not in Broker:Push:AllowedHosts");
            }

            if (addresses.FirstOrDefault(IsInternal) is { } blocked)
            {
                throw new HttpRequestException($"host {endpoint.Host} resolves to {blocked}, an internal address not in Broker:Push:AllowedHosts");
            }
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, endpoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private bool Listed(string host)
    {
        foreach (var entry in allowed)
        {
            if (entry.StartsWith("*.", StringComparison.Ordinal)
                ? host.EndsWith(entry[1..], StringComparison.OrdinalIgnoreCase) && host.Length > entry.Length - 1
                : host.Equals(entry, StringComparison.OrdinalIgnoreCase)
                    || (IPAddress.TryParse(entry, out var listed) && IPAddress.TryParse(host, out var given) && listed.Equals(given)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Loopback, private, shared (CGNAT), link-local, unique-local, multicast, unspecified or reserved.</summary>
    public static bool IsInternal(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address))
        {
            return true;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] is 0 or 10 or 127 or >= 224
                || (b[0] == 100 && b[1] >= 64 && b[1] < 128)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 172 && b[1] >= 16 && b[1] < 32)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2)
                || (b[0] == 198 && b[1] is 18 or 19);
        }

        var v6 = address.GetAddressBytes();
        return address.Equals(IPAddress.IPv6None) || address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
            || (v6[0] & 0xFE) == 0xFC;
    }
}
