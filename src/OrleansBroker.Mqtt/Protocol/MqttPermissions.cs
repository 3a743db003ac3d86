using OrleansBroker.Identity;

namespace OrleansBroker.Mqtt.Protocol;

/// <summary>
/// What a connection's principal may do, as read when it connected: publish to an MQTT topic needs the send permission to
/// match <c>&lt;broker topic&gt;/&lt;topic name&gt;</c>, subscribe needs the receive permission to match
/// <c>&lt;broker topic&gt;/&lt;filter&gt;</c>. Used by the connection's read loop only, so not thread-safe.
/// </summary>
internal sealed class MqttPermissions(PrincipalAccess access, string brokerTopic)
{
    /// <summary>Most topic names whose answer is remembered; past it the memory starts again.</summary>
    private const int MaxRemembered = 1000;

    private readonly Dictionary<string, bool> _send = new(StringComparer.Ordinal);

    /// <summary>The tenant the connection acts in: the principal's home tenant.</summary>
    public string Tenant => access.Tenant;

    /// <summary>Whether the principal has any permission in its tenant.</summary>
    public bool ReachTenant => access.Reaches(Tenant);

    public bool MaySend(string topic)
    {
        if (!_send.TryGetValue(topic, out var allowed))
        {
            if (_send.Count >= MaxRemembered)
            {
                _send.Clear();
            }

            allowed = _send[topic] = access.Allows(Tenant, Operation.Send, MqttNames.PermissionName(brokerTopic, topic));
        }

        return allowed;
    }

    public bool MayReceive(string filter) => access.Allows(Tenant, Operation.Receive, MqttNames.PermissionName(brokerTopic, filter));
}
