module github.com/stoq-go/stoq/plugins/mimetype/v3

go 1.26

require github.com/stoq-go/stoq/core/v3 v3.0.0

replace github.com/stoq-go/stoq/core/v3 => ../../core
