module github.com/cfaccess/cfaccess

go 1.26.0

require (
	github.com/MicahParks/jwkset v0.11.4
	github.com/go-json-experiment/json v1.27.2
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/maypok86/otter/v2 v2.4.0
	github.com/sony/gobreaker/v2 v2.4.0
	golang.org/x/crypto v0.48.0
	golang.org/x/sync v0.22.0
	golang.org/x/time v0.9.0
)

require golang.org/x/sys v0.41.0 // indirect
