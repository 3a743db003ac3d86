using System.Net;
using System.Net.Http.Headers;
using System.Text;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using static OrleansBroker.Tests.Http.HttpBroker;

namespace OrleansBroker.Tests.EndToEnd;

/// <summary><c>obroker user|key|permission</c> against silo-host, checked by signing in over its HTTP API.</summary>
public sealed class PrincipalCliTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Users_keys_and_permissions_made_with_the_cli_sign_in_and_act_over_http_and_a_revoked_key_stops()
    {
        using var data = new TestData();
        var gatewayPort = RealProcess.FreePort();
        using var silo = new SiloProcess(data.Directory, RealProcess.FreePort(), gatewayPort);
        await silo.WaitUntilReadyAsync();
        Assert.Matches("generated password [A-Za-z0-9_-]{20,}", silo.Output);
        var cli = new ObrokerCli(data.Directory, gatewayPort);
        var gateway = $"127.0.0.1:{gatewayPort}";

        var created = await RealProcess.RunWithInputAsync(RealProcess.CliDll, data.Directory, Timeout, "a long passphrase\n",
            "user", "create", "ops", "--password-stdin", "--tenant", "acme", "--manage", "*", "--send", "*", "--receive", "*", "--gateway", gateway);
        Assert.True(created.ExitCode == 0, created.Err);
        var key = (await cli.RunAsync("key", "create", "billing", "--tenant", "acme", "--send", "invoices.*")).Out.Trim();
        Assert.StartsWith("obk.billing.", key, StringComparison.Ordinal);
        var listed = await cli.OkAsync("user", "list");
        Assert.Contains("ops\tuser\ttenant acme", listed, StringComparison.Ordinal);
        Assert.DoesNotContain("passphrase", listed, StringComparison.Ordinal);
        Assert.DoesNotContain(key, listed, StringComparison.Ordinal);

        using var ops = Client(silo.HttpAddress, new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("ops:a long passphrase"))));
        using var billing = Client(silo.HttpAddress, Bearer(key));
        await ExpectAsync(await ops.PutAsync("/api/queues/invoices.eu", Json(new { })), HttpStatusCode.OK);
        await ExpectAsync(await billing.PostAsync("/api/queues/invoices.eu/messages", new StringContent("due")), HttpStatusCode.Created);
        await ExpectProblemAsync(await billing.PostAsync("/api/queues/invoices.eu/messages/receive", null), HttpStatusCode.Forbidden, "Forbidden");

        await cli.OkAsync("permission", "set", "billing", "--tenant", "acme", "--send", "invoices.*", "--receive", "invoices.*");
        Assert.Single(await ReceiveAsync(billing, "invoices.eu", wait: 5));
        await cli.OkAsync("key", "revoke", "billing");
        await Eventually.HoldsAsync(async () => (await billing.GetAsync("/api/whoami")).StatusCode == HttpStatusCode.Unauthorized,
            "the key revoked through the gateway is refused over HTTP (within about a second)");
        var missing = await cli.RunAsync("key", "revoke", "billing");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("no user or API key 'billing'", missing.Err, StringComparison.Ordinal);
    }

    private static HttpClient Client(Uri address, AuthenticationHeaderValue authorization) =>
        new() { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60), DefaultRequestHeaders = { Authorization = authorization } };
}
