module github.com/stoq-go/stoq/plugins/iocextract/v3

go 1.26.0

require (
	github.com/stoq-go/stoq/core/v3 v3.0.0
	golang.org/x/net v0.57.0
)

require (
	github.com/Masterminds/semver/v3 v3.5.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	golang.org/x/mod v0.43.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.40.0 // indirect
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
)

replace github.com/stoq-go/stoq/core/v3 => ../../core
