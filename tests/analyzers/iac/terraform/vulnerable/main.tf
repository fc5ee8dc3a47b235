resource "aws_security_group" "ssh" {
  name        = "ssh-from-anywhere"
  description = "SSH access"

  ingress {
    description = "SSH"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_db_instance" "app" {
  identifier          = "app"
  engine              = "postgres"
  instance_class      = "db.t3.micro"
  allocated_storage   = 20
  username            = "app"
  password            = var.db_password
  publicly_accessible = true
  storage_encrypted   = false
}

variable "db_password" {
  type      = string
  sensitive = true
}
