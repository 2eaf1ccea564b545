module github.com/stoq-go/stoq/plugins/exif

go 1.26
