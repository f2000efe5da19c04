import ChatProtocol
import Testing

@testable import ChatClient

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ClientErrorTests {
    @Test func anUnknownHostIsSaidInTwoWords() {
        #expect(
            Wording.resolutionFailure(code: Int(EAI_NONAME), description: "Name or service not known")
                == "unknown host")
        let endpoint = ServerEndpoint(host: "no.such.host.invalid", port: 1)
        #expect(
            ClientError.cannotConnect(endpoint, reason: "unknown host").description
                == "cannot connect to no.such.host.invalid:1: unknown host")
    }

    @Test func otherResolverFailuresKeepTheResolversWords() {
        #expect(
            Wording.resolutionFailure(
                code: Int(EAI_AGAIN), description: "Temporary failure in name resolution")
                == "cannot resolve host: temporary failure in name resolution")
    }

    @Test func shortReasonsLeaveTheAddressOut() {
        let endpoint = ServerEndpoint(host: "127.0.0.1", port: 1)
        #expect(
            ClientError.cannotConnect(endpoint, reason: "connection refused").shortReason
                == "connection refused")
        #expect(
            ClientError.connectionLost(endpoint, reason: "connection reset by peer").shortReason
                == "connection reset by peer")
        #expect(ClientError.closedByServer(endpoint).shortReason == "server closed the connection")
        #expect(
            ClientError.closedByServer(endpoint).description == "server 127.0.0.1:1 closed the connection")
    }
}
