module github.com/stoq-go/stoq/core/v3

go 1.26.0

require (
	github.com/Masterminds/semver/v3 v3.5.0
	github.com/google/uuid v1.6.0
	golang.org/x/sys v0.50.0
	gopkg.in/natefinch/lumberjack.v2 v2.2.1
)

require golang.org/x/mod v0.43.0
