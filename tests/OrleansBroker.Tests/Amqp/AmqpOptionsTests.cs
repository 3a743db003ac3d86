using OrleansBroker.Amqp.Hosting;
using OrleansBroker.Errors;
using Xunit;

namespace OrleansBroker.Tests.Amqp;

/// <summary>The AMQP listener's settings, checked at start: each bad one named in one line.</summary>
public sealed class AmqpOptionsTests
{
    [Fact]
    public void The_defaults_are_valid_and_documented_values()
    {
        var options = new BrokerAmqpOptions();
        options.Validate();
        Assert.Equal((5672, 5671, "127.0.0.1", 1000, 1000), (options.Port, options.TlsPort, options.Address, options.LinkCredit, options.MaxPrefetch));
        Assert.Null(options.AnonymousPrincipal);
    }

    [Theory]
    [InlineData("Port", "-2", "Broker:Amqp:Port must be -1 (off), 0 (any free port) or up to 65535")]
    [InlineData("TlsPort", "70000", "Broker:Amqp:TlsPort must be 0 to 65535")]
    [InlineData("Address", "localhost", "Broker:Amqp:Address 'localhost' is not an IP address")]
    [InlineData("CertificatePath", "/nowhere/broker.pem", "Broker:Amqp:CertificatePath '/nowhere/broker.pem' does not exist")]
    [InlineData("LinkCredit", "0", "Broker:Amqp:LinkCredit must be 1 to 100000")]
    [InlineData("MaxPrefetch", "10001", "Broker:Amqp:MaxPrefetch must be 1 to 10000")]
    [InlineData("MaxFrameSize", "512", "Broker:Amqp:MaxFrameSize must be 4096 to 16777216")]
    [InlineData("SaslTimeout", "0", "SaslTimeout above 0")]
    public void A_bad_setting_is_refused_with_its_name(string setting, string value, string message)
    {
        var options = new BrokerAmqpOptions();
        var property = typeof(BrokerAmqpOptions).GetProperty(setting)!;
        property.SetValue(options, property.PropertyType == typeof(int) ? int.Parse(value, System.Globalization.CultureInfo.InvariantCulture)
            : property.PropertyType == typeof(TimeSpan) ? TimeSpan.FromSeconds(double.Parse(value, System.Globalization.CultureInfo.InvariantCulture)) : value);
        var refused = Assert.Throws<BrokerException>(options.Validate);
        Assert.Equal(BrokerErrorCode.InvalidOptions, refused.Code);
        Assert.Contains(message, refused.Message, StringComparison.Ordinal);

        options.Enabled = false;
        options.Validate(); // Nothing is checked for a listener that is off.
    }
}
