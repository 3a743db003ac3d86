using System.Net;
using OrleansBroker.Errors;
using OrleansBroker.Push.Hosting;
using OrleansBroker.Push.Pushing;
using OrleansBroker.Queues;
using Xunit;

namespace OrleansBroker.Tests.Push;

/// <summary>Which push endpoints are taken: logic alone.</summary>
public sealed class PushOptionsTests
{
    private const string Secret = "0123456789abcdef";

    [Theory]
    [InlineData("http://hooks.example.com/in")]
    [InlineData("https://93.184.216.34/in")]
    public void Without_a_list_public_hosts_are_allowed(string url) => new PushHosts([]).Check(new Uri(url));

    [Theory]
    [InlineData("http://127.0.0.1/in")]
    [InlineData("http://localhost:8080/in")]
    [InlineData("http://10.0.0.5/in")]
    [InlineData("http://172.20.1.1/in")]
    [InlineData("http://192.168.1.1/in")]
    [InlineData("http://169.254.169.254/latest/meta-data")]
    [InlineData("http://100.64.0.1/in")]
    [InlineData("http://[::1]/in")]
    [InlineData("http://[fd00::1]/in")]
    [InlineData("http://[fe80::1]/in")]
    [InlineData("http://[::ffff:10.0.0.1]/in")]
    [InlineData("http://0.0.0.0/in")]
    public void Without_a_list_loopback_private_and_link_local_hosts_are_refused(string url)
    {
        var refused = Assert.Throws<BrokerException>(() => new PushHosts([]).Check(new Uri(url)));
        Assert.Equal(BrokerErrorCode.InvalidOptions, refused.Code);
        Assert.Contains("Broker:Push:AllowedHosts", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void With_a_list_only_its_hosts_names_patterns_and_addresses_are_allowed()
    {
        var hosts = new PushHosts(["127.0.0.1", "*.example.com", "hooks.internal"]);
        hosts.Check(new Uri("http://127.0.0.1:5000/in"));
        hosts.Check(new Uri("https://a.b.example.com/in"));
        hosts.Check(new Uri("https://HOOKS.internal/in"));
        Assert.Throws<BrokerException>(() => hosts.Check(new Uri("https://example.com/in")));
        Assert.Throws<BrokerException>(() => hosts.Check(new Uri("https://evil-example.com/in")));
        Assert.Throws<BrokerException>(() => hosts.Check(new Uri("https://hooks.other.org/in")));
        Assert.Throws<BrokerException>(() => hosts.Check(new Uri("http://127.0.0.2/in")));
    }

    [Fact]
    public async Task A_connection_to_a_name_that_resolves_to_an_internal_address_is_refused()
    {
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => new PushHosts([]).ConnectAsync(new DnsEndPoint("localhost", 9), CancellationToken.None).AsTask());
        Assert.Contains("internal address", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftp://hooks.example.com/in", "not an absolute http or https URL")]
    [InlineData("/relative", "not an absolute http or https URL")]
    [InlineData("https://user:pw@hooks.example.com/in", "user name")]
    public void Bad_urls_are_refused(string url, string reason)
    {
        var refused = Assert.Throws<BrokerException>(() => new QueueOptions { Push = new PushEndpoint { Url = url, Secrets = [Secret] } }.Validate("q"));
        Assert.Contains(reason, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Secrets_timeouts_concurrency_and_headers_are_checked()
    {
        static string Refused(PushEndpoint endpoint) =>
            Assert.Throws<BrokerException>(() => new QueueOptions { Push = endpoint }.Validate("q")).Message;

        var good = new PushEndpoint { Url = "https://hooks.example.com/in", Secrets = [Secret] };
        new QueueOptions { Push = good }.Validate("q");
        new QueueOptions { Push = good with { Secrets = [Secret, Secret + "2"] } }.Validate("q");
        Assert.Contains("secrets", Refused(good with { Secrets = [] }), StringComparison.Ordinal);
        Assert.Contains("secrets", Refused(good with { Secrets = ["short"] }), StringComparison.Ordinal);
        Assert.Contains("secrets", Refused(good with { Secrets = [Secret, Secret, Secret] }), StringComparison.Ordinal);
        Assert.Contains("lease", Refused(good with { Timeout = TimeSpan.FromSeconds(30) }), StringComparison.Ordinal);
        Assert.Contains("MaxConcurrency", Refused(good with { MaxConcurrency = 0 }), StringComparison.Ordinal);
        Assert.Contains("Host", Refused(good with { Headers = new Dictionary<string, string> { ["Host"] = "x" } }), StringComparison.Ordinal);
        Assert.Contains("Broker-", Refused(good with { Headers = new Dictionary<string, string> { ["Broker-Signature"] = "x" } }), StringComparison.Ordinal);
        Assert.Contains("line break", Refused(good with { Headers = new Dictionary<string, string> { ["X-Token"] = "a\r\nb" } }), StringComparison.Ordinal);
    }

    [Fact]
    public void Equal_endpoints_are_equal_options_so_creating_a_queue_again_is_a_no_op()
    {
        QueueOptions Make() => new()
        {
            Push = new PushEndpoint { Url = "https://hooks.example.com/in", Secrets = [Secret], Headers = new Dictionary<string, string> { ["X-Token"] = "t" } },
        };

        Assert.Equal(Make(), Make());
        Assert.NotEqual(Make(), Make() with { Push = Make().Push! with { Secrets = [Secret + "x"] } });
        Assert.Equal(["(hidden)"], Make().Redacted().Push!.Secrets);
    }

    [Fact]
    public void Silo_settings_are_checked()
    {
        new BrokerPushOptions { AllowedHosts = ["127.0.0.1", "::1", "*.example.com", "hooks"] }.Validate();
        Assert.Throws<BrokerException>(() => new BrokerPushOptions { AllowedHosts = ["http://hooks"] }.Validate());
        Assert.Throws<BrokerException>(() => new BrokerPushOptions { AllowedHosts = ["hooks:80"] }.Validate());
        Assert.Throws<BrokerException>(() => new BrokerPushOptions { AllowedHosts = ["a*.example.com"] }.Validate());
        Assert.Throws<BrokerException>(() => new BrokerPushOptions { FailuresToOpen = 0 }.Validate());
        Assert.Throws<BrokerException>(() => new BrokerPushOptions { MaxPause = TimeSpan.Zero }.Validate());
    }
}
