module github.com/stoq-go/stoq/plugins/yara

go 1.26
