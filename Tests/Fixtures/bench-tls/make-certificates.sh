#!/bin/sh
# Makes the test-only CA and server certificate that chat-bench's TLS tests use (valid for 100
# years; the server's names are 127.0.0.1, ::1 and localhost), and a second CA that signed
# nothing here, for the test that a server it does not trust is refused. Run it here to renew.
set -eu
cd "$(dirname "$0")"
days=36500
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days $days \
    -subj "/CN=a-chat bench test CA" -keyout ca-key.pem -out ca.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days $days \
    -subj "/CN=a-chat bench other CA" -keyout /dev/null -out other-ca.pem
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=localhost" -keyout server-key.pem -out server.csr
printf 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days $days \
    -extfile server.ext -out server.pem
rm -f server.csr server.ext ca.srl ca-key.pem
