import ChatServer
import ChatTestSupport
import Testing

@Suite struct ServerMessageTests {
    @Test func reproducesTheTutorialSessionByteForByte() async throws {
        try await withServer { server in
            let alice = try await LineClient.connect(port: server.port)
            let bob = try await LineClient.connect(port: server.port)
            try await alice.sendRaw("alice\n")
            try await bob.sendRaw("bob\n")
            try await waitUntil { try await server.onlineCount() == 2 }
            try await alice.sendRaw("bob: hello\n")
            #expect(try await bob.readRawLine() == Array("from alice: hello\n".utf8))
            try await bob.sendRaw("alice, bob: hi!\n")
            #expect(try await bob.readRawLine() == Array("from bob: hi!\n".utf8))
            #expect(try await alice.readRawLine() == Array("from bob: hi!\n".utf8))
            try await alice.expectSilence(for: .milliseconds(50))
        }
    }

    @Test func deliversToSeveralRecipientsOnceEach() async throws {
        try await withServer { server in
            let alice = try await loggedIn("alice", port: server.port)
            let bob = try await loggedIn("bob", port: server.port)
            let carol = try await loggedIn("carol", port: server.port)
            try await alice.send("bob, carol ,bob,,carol: hi both")
            #expect(try await bob.readLine() == "from alice: hi both")
            #expect(try await carol.readLine() == "from alice: hi both")
            try await expectStillServed(bob, as: "bob")
            try await expectStillServed(carol, as: "carol")
            try await expectStillServed(alice, as: "alice")
        }
    }

    @Test func sendingToYourselfWorks() async throws {
        try await withServer { server in
            let alice = try await loggedIn("alice", port: server.port)
            try await alice.send("alice, alice: note to self")
            #expect(try await alice.readLine() == "from alice: note to self")
            try await expectStillServed(alice, as: "alice")
        }
    }

    @Test func namesEachOfflineRecipientInANotice() async throws {
        try await withServer { server in
            let alice = try await loggedIn("alice", port: server.port)
            let bob = try await loggedIn("bob", port: server.port)
            try await alice.send("ghost, bob, nobody, ghost: anyone?")
            #expect(try await bob.readLine() == "from alice: anyone?")
            try await expectNotice(alice, containing: "'ghost' is not online")
            try await expectNotice(alice, containing: "'nobody' is not online")
            try await expectStillServed(alice, as: "alice")
        }
    }

    @Test func answersLinesThatAreNotMessagesWithNotices() async throws {
        try await withServer { server in
            let alice = try await loggedIn("alice", port: server.port)
            try await alice.send("no colon here")
            try await expectNotice(alice, containing: "no ':'")
            try await alice.send(" , : nobody listed")
            try await expectNotice(alice, containing: "no recipient")
            try await expectStillServed(alice, as: "alice")
        }
    }

    @Test func ignoresEmptyLines() async throws {
        try await withServer { server in
            let alice = try await loggedIn("alice", port: server.port)
            try await alice.sendRaw("\n\r\n   \n")
            try await expectStillServed(alice, as: "alice")
        }
    }

    @Test func acceptsCRLFAndKeepsColonsInTheText() async throws {
        try await withServer { server in
            let alice = try await LineClient.connect(port: server.port)
            try await alice.sendRaw("alice\r\nalice: at 10:30: meet\r\n")
            #expect(try await alice.readRawLine() == Array("from alice: at 10:30: meet\n".utf8))
        }
    }

    @Test func deliversA60KiBLine() async throws {
        try await withServer { server in
            let alice = try await loggedIn("alice", port: server.port)
            let text = String(repeating: "0123456789abcdef", count: 60 * 1024 / 16)
            try await alice.send("alice: " + text)
            #expect(try await alice.readLine() == "from alice: " + text)
        }
    }

    @Test func discardsAnOverlongLineWithANoticeAndKeepsTheConnection() async throws {
        try await withServer(maximumLineBytes: 1000) { server in
            let alice = try await loggedIn("alice", port: server.port)
            try await alice.send("alice: " + String(repeating: "x", count: 5000))
            try await expectNotice(alice, containing: "longer than 1000 bytes")
            // Exactly at the limit is still a message.
            let atLimit = "alice: " + String(repeating: "y", count: 1000 - 7)
            try await alice.send(atLimit)
            #expect(try await alice.readLine() == "from alice: " + String(repeating: "y", count: 993))
            try await expectStillServed(alice, as: "alice")
        }
    }

    @Test func skipsInvalidUTF8WithANoticeAndKeepsTheConnection() async throws {
        try await withServer { server in
            let alice = try await loggedIn("alice", port: server.port)
            try await alice.sendRaw(Array("alice: bad ".utf8) + [0xC3, 0x28] + Array(" byte\n".utf8))
            try await expectNotice(alice, containing: "UTF-8")
            try await alice.sendRaw(Array("alice: é ok\n".utf8))
            #expect(try await alice.readLine() == "from alice: é ok")
        }
    }

    @Test(.loadsTheMachine) func survivesALineListingThousandsOfNames() async throws {
        try await withServer { server in
            let alice = try await loggedIn("alice", port: server.port)
            let names = (0..<6000).map { "n\($0 % 3000)" }.joined(separator: ",")
            try await alice.send(names + ",alice: roll call")
            var offline = 0
            while let line = try await alice.readLine(), line != "from alice: roll call" {
                #expect(line.hasPrefix("error: 'n"))
                offline += 1
            }
            #expect(offline == 3000, "each distinct offline name is named once")
        }
    }

    /// The notices for the five ghosts (counted in one, as the queue has no room to name them)
    /// and then alice's own copy take her queue past its limit: she is cut off in the middle of
    /// the delivery, and bob, after her in the list, still gets it.
    @Test func survivesASenderCutOffByItsOwnCopyMidDelivery() async throws {
        try await withServer(maximumQueueBytes: 120) { server in
            let bob = try await loggedIn("bob", port: server.port)
            let alice = try await LineClient.connect(port: server.port)
            try await alice.send("alice")
            try await alice.stopReading()
            let text = "hi, in a line long enough to take the queue past 120 bytes"
            try await alice.send("ghost1, ghost2, ghost3, ghost4, ghost5, alice, bob: \(text)")
            #expect(try await bob.readLine() == "from alice: \(text)")
            try await waitUntil { try await server.onlineCount() == 1 }
            let again = try await loggedIn("alice", port: server.port)
            await again.close()
        }
    }

    @Test(.loadsTheMachine) func keepsEachSendersOrderUnderLoad() async throws {
        let clients = 30
        let messages = 300
        let fanOut = 3
        try await withServer { server in
            var connections: [LineClient] = []
            for index in 0..<clients {
                connections.append(try await loggedIn("c\(index)", port: server.port))
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<clients {
                    let client = connections[index]
                    let recipients = (1...fanOut).map { "c\((index + $0) % clients)" }.joined(separator: ", ")
                    group.addTask {
                        for sequence in 0..<messages {
                            try await client.send("\(recipients): \(sequence) from c\(index)")
                        }
                    }
                    group.addTask {
                        var next = [String: Int]()
                        for _ in 0..<(messages * fanOut) {
                            let line = try #require(try await client.readLine(timeout: .seconds(60)))
                            let parts = line.split(separator: " ")
                            try #require(parts.count == 5 && parts[0] == "from", "unexpected \(line)")
                            let sender = String(parts[1].dropLast())
                            #expect(parts[4] == parts[1].dropLast(), "body names its sender: \(line)")
                            let expected = next[sender, default: 0]
                            try #require(
                                Int(parts[2]) == expected, "c\(index) got \(line), wanted \(expected)")
                            next[sender] = expected + 1
                        }
                        #expect(next.count == fanOut)
                        #expect(next.values.allSatisfy { $0 == messages })
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test func deliversEverythingQueuedAfterEndOfInputThenCloses() async throws {
        try await withServer { server in
            let alice = try await loggedIn("alice", port: server.port)
            var burst = ""
            for sequence in 0..<2000 { burst += "alice: message \(sequence)\n" }
            try await alice.sendRaw(burst)
            try await alice.closeOutput()
            let lines = try await alice.readToEnd()
            #expect(lines == (0..<2000).map { "from alice: message \($0)" })
            try await waitUntil { try await server.onlineCount() == 0 }
        }
    }

    @Test func closesAHalfClosedClientThatNeverReadsAfterTheDrainTimeout() async throws {
        // Flow control out of the way (a soft limit above the whole burst), so the burst is read
        // and queued, and the drain has something to give up on.
        let softLimitAboveTheBurst = ChatServerConfiguration.forTests.with {
            $0.maximumQueueBytes = 64 * 1024 * 1024
            $0.drainTimeout = .milliseconds(300)
            $0.softQueueBytes = 32 * 1024 * 1024
        }
        try await withServer(configuration: softLimitAboveTheBurst) { server in
            let alice = try await loggedIn("alice", port: server.port, receiveBufferBytes: 64 * 1024)
            try await alice.stopReading()
            let total = 20_000
            var burst = ""
            for sequence in 0..<total {
                burst += "alice: \(sequence) " + String(repeating: "p", count: 500) + "\n"
            }
            try await alice.sendRaw(burst)
            try await alice.closeOutput()
            // The login is freed when the server reads the end of input; the drain starts then,
            // and ends when the server gives up on it and closes: an event, where a fixed wait
            // could end before a loaded server's timer fired, and the reader then take it all.
            try await waitUntil(timeout: .seconds(30)) { try await server.onlineCount() == 0 }
            try await waitUntil(timeout: .seconds(60)) { alice.isClosedByServer }
            try await alice.resumeReading()
            let lines = try await alice.readToEnd(timeout: .seconds(20))
            #expect(lines.count < total, "the server gave up on the drain rather than wait forever")
            #expect(try await server.onlineCount() == 0)
        }
    }

    @Test func takesALastLineWithoutNewlineAtEndOfInput() async throws {
        try await withServer { server in
            let alice = try await loggedIn("alice", port: server.port)
            try await alice.sendRaw("alice: unterminated")
            try await alice.closeOutput()
            #expect(try await alice.readToEnd() == ["from alice: unterminated"])
        }
    }

    /// The absolute bound, which flow control normally keeps queues far from, reached here by a
    /// soft limit (256 KiB by default) above it.
    @Test(.loadsTheMachine) func cutsOffAReaderAtTheAbsoluteQueueLimitAndFreesItsLogin() async throws {
        // One loop: a delivery from another loop is exempt from the bound (see Connection.enqueue).
        let oneLoop = ChatServerConfiguration.forTests.with {
            $0.maximumQueueBytes = 64 * 1024
            $0.eventLoops = 1
        }
        try await withServer(configuration: oneLoop) { server in
            let slow = try await loggedIn("slow", port: server.port, receiveBufferBytes: 64 * 1024)
            let fast = try await loggedIn("fast", port: server.port)
            try await slow.stopReading()
            let line = "slow: " + String(repeating: "z", count: 1000) + "\n"
            let chunk = String(repeating: line, count: 100)
            // Enough to fill the kernel's buffers on both sides and then the 64 KiB queue.
            for _ in 0..<400 where !(try await server.onlineCount() == 1) {
                try await fast.sendRaw(chunk)
            }
            try await waitUntil(timeout: .seconds(20)) { try await server.onlineCount() == 1 }
            try await slow.resumeReading()
            // What was queued before the cut-off arrives whole, then the reason, then the end.
            let rest = try await slow.readToEnd(timeout: .seconds(20))
            #expect(rest.last == "error: you are not reading fast enough; disconnecting")
            let delivery = "from fast: " + String(repeating: "z", count: 1000)
            #expect(rest.dropLast().allSatisfy { $0 == delivery })
            #expect(!slow.wasReset)
            // Cut off at its queue limit plus what the kernel buffers held, not after the whole flood.
            #expect(slow.receivedByteCount < 8 * 1024 * 1024)
            // The sender was never held up: past the notices for the flood's tail, which the
            // server was still reading when the login was freed, its own line comes back.
            try await fast.send("fast: flood over")
            var echo = try await fast.readLine(timeout: .seconds(20))
            while echo?.hasPrefix("error: ") == true { echo = try await fast.readLine() }
            #expect(echo == "from fast: flood over")
            // And the freed login can be taken again.
            let again = try await loggedIn("slow", port: server.port)
            try await fast.send("slow: welcome back")
            #expect(try await again.readLine() == "from fast: welcome back")
        }
    }
}
